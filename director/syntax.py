"""The syntax tree: what one `.shot` file says, before any name is resolved.

`parse.py` builds these; `check.py` reads them and builds the checked spec.
Values are kept as written (times with their unit, names as text) because
their meaning depends on things a single file does not know, such as the
frame rate or what another file declares.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from .source import Span


class Node(BaseModel):
    span: Span


class Time(Node):
    """A time as written: `4s`, `250ms`, `12f`, SMPTE `00:01:04:12`, `4b` (beats at the
    script's tempo) or, where a position is meant, `bar 3` (the start of the third bar)."""

    text: str
    value: float
    unit: Literal["s", "ms", "f", "tc", "b", "bar"]


class Word(Node):
    """A name, keyword or path as written, with where it was written."""

    text: str


# ---------------------------------------------------------------- header


class Setting(Node):
    key: Literal[
        "title",
        "format",
        "style",
        "negative",
        "seed",
        "backend",
        "import",
        "takes",
        "consistency",
        "keyframes",
        "tempo",
    ]


class TextSetting(Setting):
    value: str


class FormatSetting(Setting):
    width: int
    height: int
    fps: str | None  # as written, e.g. "23.976"


class IntSetting(Setting):
    value: int


class NumberSetting(Setting):
    value: float


class TempoSetting(Setting):
    """`tempo: 120` or `tempo: 96 3/4`: beats a minute, and beats to the bar."""

    bpm: float
    beats_per_bar: int = 4
    note: int = 4  # the meter's lower number: which note a beat is
    meter: Word | None = None  # `3/4` as written, where it was


class PathSetting(Setting):
    path: Word


# ---------------------------------------------------------- declarations


class Declaration(Node):
    name: Word


class Character(Declaration):
    description: str | None = None
    refs: list[Word] = []
    voice: str | None = None
    display: str | None = None  # the name as written: MRS. O'BRIEN for MRS_OBRIEN


class Location(Declaration):
    description: str | None = None
    refs: list[Word] = []


class Asset(Declaration):
    kind: Literal["audio", "image", "video"]
    path: Word


# ---------------------------------------------------------------- scenes


class Slugline(Node):
    prefix: str  # INT. EXT. INT./EXT.
    location: Word
    time_of_day: str


class CameraMove(Node):
    move: str
    direction: Word | None = None  # a direction word or, for `track`, a NAME
    amount: Word | None = None  # 10deg or 1.5x
    speed: Literal["slow", "fast"] | None = None
    ease: Literal["in", "out", "in-out"] | None = None
    over: Time | None = None


class Camera(Node):
    moves: list[CameraMove]


class Angle(Node):
    kind: str
    degrees: float | None = None


class Lens(Node):
    focal_mm: float


class Action(Node):
    text: str


class DialogueLine(Node):
    parenthetical: str | None = None
    text: str


class Direction(Node):
    """A parenthetical with no words after it in its block."""

    text: str


class Dialogue(Node):
    speaker: Word
    extension: Literal["V.O.", "O.S."] | None = None
    lines: list[DialogueLine]
    after: list[Direction] = []  # directions after the last line, or the block's only one


class Cue(Node):
    kind: Literal["music", "sfx", "ambience"]
    asset: Word
    start: Time | None = None
    length: Time | None = None
    fade_in: Time | None = None
    fade_out: Time | None = None
    gain_db: float | None = None
    duck: bool = False
    in_point: Time | None = None  # `in 12s`: where in its file it starts playing
    loop: bool = False


class Reference(Node):
    target: Word  # an asset NAME or a path


# `keyframe first: generate`, `keyframes: generate`: the keyframe is made, not pinned.
GENERATE = "generate"


class Keyframe(Node):
    end: Literal["first", "last"]
    target: Word
    generate: bool = False  # `keyframe first: generate`: made by an image model, not pinned


ShotItem = (
    Camera
    | Angle
    | Lens
    | Action
    | Dialogue
    | Cue
    | Reference
    | Keyframe
    | TextSetting
    | IntSetting
    | NumberSetting
    | Setting
)


class Shot(Node):
    id: Word
    size: Word
    subjects: list[Word] = []
    duration: Time
    continuous: bool = False
    items: list[ShotItem] = []


class Transition(Node):
    kind: Literal["cut", "smash cut", "match cut", "dissolve", "wipe", "fade out", "fade in"]
    length: Time | None = None


class ScriptFile(BaseModel):
    """One parsed file: its header, declarations and, in order, its scenes and shots."""

    path: str
    settings: list[Setting] = []
    declarations: list[Declaration] = []
    body: list[Slugline | Shot | Transition | Cue] = []  # a Cue here is on the film's timeline
