"""The shared base of every backend: a capability table and a few class attributes.

A backend is a small class that overrides what differs, as a SQL dialect does
in sqlglot.  The compiler reads only the capability table; the runtime will
call the generation method that subclasses add.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from director.spec import CameraMove

Conditioning = Literal[
    "text",
    "first_frame",
    "last_frame",
    "reference_images",
    "reference_video",
    "reference_audio",
]


class Capabilities(BaseModel):
    """What a backend can make, and from what."""

    model_config = ConfigDict(frozen=True)

    frame_rates: tuple[float, ...] | None = None  # None: any rate
    size_multiple: int = 2  # width and height are rounded to a multiple of this
    max_side: int | None = None
    frame_multiple: int = 1  # frame counts are frame_multiple * k + frame_offset
    frame_offset: int = 0
    max_frames: int | None = None  # per generated window; None: no limit
    can_extend: bool = True  # long shots may be made in overlapping windows
    window_overlap: int = 0  # frames shared by consecutive windows
    conditioning: frozenset[Conditioning] = frozenset({"text"})
    joint_audio: bool = False  # generates the shot's sound with its picture
    audio_sample_rate: int | None = None

    def frames_for(self, wanted: int) -> int:
        """The smallest frame count the backend can make that covers `wanted` frames."""
        k = max(0, math.ceil((wanted - self.frame_offset) / self.frame_multiple))
        return self.frame_multiple * k + self.frame_offset

    def side_for(self, wanted: int) -> int:
        """The nearest side length the backend accepts, never below one multiple."""
        m = self.size_multiple
        return max(m, round(wanted / m) * m)

    def rate_for(self, wanted: float) -> float:
        """The supported frame rate closest to the film's."""
        if not self.frame_rates:
            return wanted
        return min(self.frame_rates, key=lambda rate: (abs(rate - wanted), rate))


@dataclass(frozen=True)
class CharacterRefs:
    name: str
    refs: tuple[Path, ...]


@dataclass(frozen=True)
class ShotRequest:
    """One generation node's work, as a backend sees it.

    Sizes, rate and frame count already follow the backend's capability
    table.  Camera moves are timed in this request's frames.  Paths are
    absolute files in the cache or the project.
    """

    shot_id: str
    size: str
    prompt: str
    negative: str
    seed: int
    width: int
    height: int
    fps: float
    frames: int
    camera: tuple[CameraMove, ...] = ()
    plate: Path | None = None  # the location's first reference image
    characters: tuple[CharacterRefs, ...] = ()
    reference_images: tuple[Path, ...] = ()  # the shot's own image refs
    reference_video: tuple[Path, ...] = ()
    reference_audio: tuple[Path, ...] = ()
    keyframe_first: Path | None = None
    keyframe_last: Path | None = None
    previous_frame: np.ndarray | None = field(default=None, compare=False)  # continuity
    # Each spoken line {speaker, text, start, frames}, timed in this request's
    # frames; only for backends that show dialogue (the animatic's subtitles).
    dialogue: tuple[dict, ...] = ()


@dataclass
class GeneratedShot:
    """What a backend returns: exactly `request.frames` frames, and sound if it makes it."""

    frames: Iterable[np.ndarray]  # HxWx3 uint8 RGB, yielded one at a time
    audio: np.ndarray | None = None  # (samples, channels) float32 in [-1, 1]
    sample_rate: int | None = None


class Backend:
    """Base class: subclasses set `name`, `capabilities` and, if they need, the rest."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Bumped when a change to the backend changes what it makes: part of every
    # generation node's cache key.
    version: ClassVar[str] = "1"
    capabilities: ClassVar[Capabilities] = Capabilities()
    prompt_template: ClassVar[str] = "default.j2"
    # Higher wins when a script says `backend: auto` and several are available.
    auto_rank: ClassVar[int] = 0
    # Draws the dialogue into the picture (subtitles), so the picture depends on it.
    shows_dialogue: ClassVar[bool] = False

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when this backend can run on this machine, else why not."""
        return None

    def generate(self, request: ShotRequest) -> GeneratedShot:
        """Make one shot (or one window of a long shot)."""
        raise NotImplementedError(f"the {self.name} backend cannot generate yet")
