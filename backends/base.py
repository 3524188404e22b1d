"""The shared base of every backend: a capability table and a few class attributes.

A backend is a small class that overrides what differs, as a SQL dialect does
in sqlglot.  The compiler reads only the capability table; the runtime will
call the generation method that subclasses add.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_serializer

from director.spec import CameraMove

if TYPE_CHECKING:  # frames are numpy arrays; this base never makes one
    import numpy as np

Conditioning = Literal[
    "text",
    "first_frame",
    "last_frame",
    "reference_images",
    "reference_video",
    "reference_audio",
]


class Estimate(BaseModel):
    """What one generation window costs, roughly: for budgeting a plan before any work.

    Memory is the weights plus working memory that grows with the frame's pixels
    (buffers streamed frame by frame) and with pixels × frames (latents,
    attention, the VAE decode of the whole window).  `offload_keeps` is the
    share of the weights still resident when they are offloaded between
    components, `tiling_keeps` the share of the working memory with a tiled
    decode.  `source` says where the figures come from (measured or cited).
    """

    model_config = ConfigDict(frozen=True)

    device: Literal["cpu", "cuda"] = "cpu"
    steps: int = 1  # denoising steps by default (1 for a renderer)
    weights_bytes: int = 0
    bytes_per_pixel: float = 0.0
    bytes_per_pixel_frame: float = 0.0
    seconds_per_step_megapixel_frame: float | None = None  # None: not known
    offload_keeps: float = 1.0
    tiling_keeps: float = 1.0
    source: str = ""

    def memory(self, width: int, height: int, frames: int, *, least: bool = False) -> int:
        """Peak bytes for one window at the default settings, or (`least`) offloaded
        and tiled: the least this backend can be made to use."""
        pixels = width * height
        working = pixels * self.bytes_per_pixel + pixels * frames * self.bytes_per_pixel_frame
        if least:
            return round(self.weights_bytes * self.offload_keeps + working * self.tiling_keeps)
        return round(self.weights_bytes + working)

    def seconds(self, width: int, height: int, frames: int, steps: int) -> float | None:
        if self.seconds_per_step_megapixel_frame is None:
            return None
        return self.seconds_per_step_megapixel_frame * steps * width * height * frames / 1e6


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
    # How many memory settings `generate` understands (ShotRequest.memory_level
    # 0 to memory_levels - 1, each using less memory than the one before); after
    # running out of memory the runtime retries at the next.
    memory_levels: int = 1
    estimate: Estimate | None = None  # None: its cost is not known

    @field_serializer("conditioning")
    def _sorted(self, conditioning: frozenset[str]) -> list[str]:
        # A set's order follows string hashing, which differs from one process to
        # the next: sorted, a plan is the same bytes whatever the process.
        return sorted(conditioning)

    def frames_for(self, wanted: int) -> int:
        """The smallest frame count the backend can make that covers `wanted` frames."""
        k = max(0, math.ceil((wanted - self.frame_offset) / self.frame_multiple))
        return self.frame_multiple * k + self.frame_offset

    def side_for(self, wanted: int) -> int:
        """The nearest side length the backend accepts, never below one multiple."""
        m = self.size_multiple
        return max(m, round(wanted / m) * m)

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The frame size to ask for, for a film of `width` x `height`."""
        return self.side_for(width), self.side_for(height)

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
    # The shot's `angle:` (eye level, low, high, overhead, dutch, with a dutch angle's
    # degrees) and `lens:` in mm; only for backends that draw them (`draws_framing`).
    angle: str | None = None
    angle_degrees: float | None = None
    lens_mm: float | None = None
    # 0: the backend's own defaults.  Each level above asks it to use less memory
    # than the one below, at some cost in speed: by convention 1 offloads weights
    # to the CPU between components, 2 also tiles the VAE, 3 also decodes fewer
    # frames at a time.  The picture should not change (tiling may, slightly).
    memory_level: int = 0


@dataclass(frozen=True)
class Placement:
    """Where a backend drew a character's reference picture in one frame: `box` is
    the rectangle, in frame pixels (x0, y0, x1, y1), that the whole picture maps
    onto; it reaches past the frame's edges where the picture does.  Consistency
    scoring looks for the character's face there before searching the frame."""

    frame: int
    character: str
    ref: Path  # the reference file, as the request gave it
    box: tuple[float, float, float, float]


@dataclass
class GeneratedShot:
    """What a backend returns: exactly `request.frames` frames, and sound if it makes it."""

    # HxWx3 RGB, yielded one at a time: uint8, or float in [0, 1] (then checked for
    # NaN and converted).  The runtime checks each frame as it streams, and codes it
    # while the next ones are made: a frame must not be changed once yielded.
    frames: Iterable[np.ndarray]
    audio: np.ndarray | None = None  # (samples, channels) float32 in [-1, 1]
    sample_rate: int | None = None
    # A backend that knows where it drew its characters' reference pictures (the
    # animatic) answers, for the frame numbers asked, where; others leave it None.
    placements: Callable[[Collection[int]], list[Placement]] | None = None


class BackendError(Exception):
    """The backend cannot make this request, for a reason its message says in the
    user's terms (a refused job, an unreachable service): the runtime reports it as
    the node's failure, at the shot's line, with no traceback."""


class BackendOutOfMemory(Exception):
    """The backend ran out of memory (GPU or host) making one request.  The runtime
    retries the request at the next `memory_level` before it gives up."""


def is_out_of_memory(error: BaseException) -> bool:
    """Is `error` an out-of-memory from the backend, torch's CUDA allocator or Python?"""
    if isinstance(error, BackendOutOfMemory | MemoryError):
        return True
    torch = sys.modules.get("torch")  # never imported here just to ask
    oom = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    return oom is not None and isinstance(error, oom)


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
    # Draws a shot's `angle:` and `lens:` itself (the animatic), so the picture depends
    # on them; other backends read them in the prompt.
    draws_framing: ClassVar[bool] = False
    # A clip black from end to end is a failed generation (NaN latents decode to
    # zeros) and is retried with a new seed.  False for a backend that draws
    # exactly what it is given, where a black plate may be black on purpose.
    black_is_failure: ClassVar[bool] = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when this backend can run on this machine, else why not."""
        return None

    # For what `left_out` leaves out although the capability table has it: when the
    # backend does take it, e.g. "without a first frame" (said in the W109 warning).
    takes_when: ClassVar[str] = ""

    @classmethod
    def left_out(cls, wanted: set[str], options: dict | None = None) -> set[str]:
        """What of the conditioning a shot gives (`wanted`) this backend leaves out,
        made with `options` (its plan options: a hosted model's provider, `via`)."""
        return wanted - cls.capabilities.conditioning

    def generate(self, request: ShotRequest) -> GeneratedShot:
        """Make one shot (or one window of a long shot).  Raise BackendOutOfMemory
        (or let torch's OutOfMemoryError through) when it does not fit."""
        raise NotImplementedError(f"the {self.name} backend cannot generate yet")

    def release_memory(self) -> None:
        """Give back what a failed request left allocated (e.g. torch.cuda.empty_cache),
        before the runtime retries at a lower memory level."""

    @classmethod
    def resources(cls, settings: dict) -> dict[str, float]:
        """What one cluster worker running this backend asks for, in Ray's terms
        (`num_cpus`, `num_gpus`), given its runtime settings (`device`, …): a CPU."""
        return {"num_cpus": 1}
