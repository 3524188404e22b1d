"""The checked spec: a whole film after name resolution and every check.

`check.py` builds it; `plan.py` lowers it.  Times here are whole frames at the
film's frame rate, names are resolved, and every file is probed and hashed,
so nothing downstream needs the source text or the file system's word.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import BaseModel

from .source import Span

AssetKind = Literal["image", "audio", "video"]


class Format(BaseModel):
    width: int = 1280
    height: int = 720
    fps_num: int = 24
    fps_den: int = 1

    @property
    def fps(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)


class MediaFile(BaseModel):
    """A file the film uses, as probed: its kind, size or length, and content hash."""

    path: str  # relative to the project root, with forward slashes
    kind: AssetKind
    sha256: str
    width: int | None = None
    height: int | None = None
    seconds: float | None = None  # audio and video length
    span: Span  # where the script first names it


class Character(BaseModel):
    name: str
    description: str = ""
    refs: list[MediaFile] = []
    voice: str = ""
    display: str = ""  # the name as written, for prompts and subtitles; "" for the name
    span: Span


class Location(BaseModel):
    name: str
    description: str = ""
    refs: list[MediaFile] = []
    span: Span


class NamedAsset(BaseModel):
    name: str
    file: MediaFile
    span: Span


class CameraMove(BaseModel):
    move: str
    direction: str | None = None
    target: str | None = None  # the character a `track` follows
    degrees: float | None = None
    factor: float | None = None
    speed: Literal["slow", "fast"] | None = None
    ease: Literal["in", "out", "in-out"] | None = None
    start: int  # frame within the shot
    frames: int
    span: Span | None = None


class DialogueLine(BaseModel):
    speaker: str
    extension: Literal["V.O.", "O.S."] | None = None
    parenthetical: str | None = None
    text: str
    voice: str = ""
    start: int  # frames within the shot
    frames: int
    span: Span


class Cue(BaseModel):
    kind: Literal["music", "sfx", "ambience"]
    asset: str
    file: MediaFile
    start: int  # frames from the start of its shot, or of the film for the film's cues
    frames: int  # how long it plays
    in_point: int = 0  # frames into its file where it starts playing
    loop: bool = False  # plays its file (from the in-point) again each time it ends
    pass_frames: int = 0  # a looped cue: frames of one pass, its file after the in-point
    fade_in: int = 0
    fade_out: int = 0
    gain_db: float = 0.0
    duck: bool = False
    span: Span


class Transition(BaseModel):
    kind: Literal["cut", "smash cut", "match cut", "dissolve", "wipe", "fade out", "fade in"]
    frames: int = 0
    span: Span | None = None  # None for the implied cut


class Shot(BaseModel):
    id: str
    scene: int
    size: str
    subjects: list[str] = []
    characters: list[str] = []  # everyone who appears: subjects, speakers, names in action
    frames: int
    continuous: bool = False
    camera: list[CameraMove] = []
    angle: str | None = None
    angle_degrees: float | None = None
    lens_mm: float | None = None
    action: list[str] = []
    dialogue: list[DialogueLine] = []
    cues: list[Cue] = []
    refs: list[MediaFile] = []
    keyframe_first: MediaFile | None = None
    keyframe_last: MediaFile | None = None
    generate_first: bool = False  # `keyframe first: generate`: made by the keyframe maker
    generate_last: bool = False
    seed: int | None = None
    takes: int = 1
    backend: str | None = None
    negative: str | None = None
    consistency: float | None = None
    transition_in: Transition  # what comes before this shot
    span: Span


class Scene(BaseModel):
    index: int
    setting: str = ""  # INT. EXT. INT./EXT.; empty for the unnamed first scene
    location: str = ""
    declared_location: str | None = None
    time_of_day: str = ""
    span: Span | None = None


class Film(BaseModel):
    title: str
    format: Format = Format()
    style: str = ""
    negative: str = ""
    seed: int = 0
    backend: str = "auto"
    consistency: float | None = None  # the takes' minimum score, unless a shot gives its own
    keyframes: str | None = None  # `keyframes: generate`: shots that pin none get a first one
    characters: dict[str, Character] = {}
    locations: dict[str, Location] = {}
    assets: dict[str, NamedAsset] = {}
    scenes: list[Scene] = []
    shots: list[Shot] = []
    fade_out: Transition | None = None  # a final FADE OUT
    cues: list[Cue] = []  # written outside any shot: placed on the film's timeline
    root: str  # the project root, absolute
    files: list[str] = []  # every script read, relative to the root
