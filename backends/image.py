"""Image backends: what makes a shot's keyframes, beside the video backends.

A keyframe maker is a small class like a video backend: a name, a version
(part of every keyframe node's hash), a capability table, and `make`, which
turns one `ImageRequest` into one picture.  The built-in maker is the
animatic's own composite (backends/animatic.py): the location's plate and the
characters' reference pictures laid out as the shot's size asks, so
`keyframes: generate` runs on any laptop with no model folder.  The diffusers
image models (FLUX.2, FLUX.2 Klein, Qwen-Image-Edit-Plus, FLUX.1 Kontext) are
entries in backends/image_diffusers.py.

Makers register by name (`backends.image_names.KNOWN`, imported only when
named); a test or a plug-in adds its class to `MAKERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from PIL import Image
from pydantic import BaseModel

from . import image_names
from .base import CharacterRefs, Estimate, ShotRequest


class ImageCapabilities(BaseModel):
    """What an image backend takes and makes."""

    max_references: int  # reference pictures it reads; the planner passes no more
    edits: bool  # it edits its references (True) or only reads text and style from them
    size_multiple: int = 2  # it makes pictures whose sides are multiples of this
    max_side: int | None = None  # px; None: no limit
    min_reference_side: int = 0  # px: smaller references are enlarged to this first
    estimate: Estimate | None = None  # one picture's cost (frames=1); None: unknown


@dataclass(frozen=True)
class ImageRequest:
    """One keyframe of one shot, as an image backend is asked for it."""

    shot_id: str
    end: str  # "first" or "last": which moment of the shot
    size: str  # the shot size, e.g. "MEDIUM CLOSE-UP"
    prompt: str
    seed: int
    width: int
    height: int
    plate: Path | None  # the location's first reference picture
    characters: tuple[CharacterRefs, ...]  # those on screen, with their pictures
    references: tuple[Path, ...]  # every reference picture it may read, within its limit


class ImageBackend:
    """The shared base of every image backend."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    capabilities: ClassVar[ImageCapabilities] = ImageCapabilities(max_references=0, edits=False)
    # Settings a director.toml table or the command line may give it (see
    # backends.image_diffusers): how it runs, and what changes its pictures.
    runtime_settings: ClassVar[tuple[str, ...]] = ()
    plan_settings: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def plan_options(cls, folder: Path | None, settings: dict) -> dict:
        """The constructor options that change its pictures, for the keyframe node
        (and so its hash).  The built-in maker has none."""
        return {}

    def make(self, request: ImageRequest) -> Image.Image:
        raise NotImplementedError(f"the {self.name} image backend makes nothing")


class AnimaticImages(ImageBackend):
    """The animatic's composite at the shot's rest: no model, no GPU.  The seed moves
    nothing here (the composite is a layout, not a sample), so a keyframe below its
    minimum is remade the same; a model's retries differ."""

    name = "animatic"
    version = "1"
    capabilities = ImageCapabilities(max_references=8, edits=True)

    def make(self, request: ImageRequest) -> Image.Image:
        from .animatic import Animatic

        shot = ShotRequest(
            shot_id=request.shot_id, size=request.size, prompt=request.prompt, negative="",
            seed=request.seed, width=request.width, height=request.height, fps=24.0, frames=1,
            plate=request.plate, characters=request.characters,
        )  # fmt: skip
        frame = next(Animatic(shot, burn_in=False, subtitles=False).frames())
        return Image.fromarray(frame)


BUILT_IN = image_names.BUILT_IN  # what `keyframes: generate` makes keyframes with
MAKERS: dict[str, type[ImageBackend]] = {AnimaticImages.name: AnimaticImages}


def names() -> list[str]:
    """Every image backend's name: the known ones and those added to `MAKERS`."""
    return sorted({*image_names.names(), *MAKERS})


def get(name: str) -> type[ImageBackend]:
    """The image backend called `name` (`generate`: the built-in one), imported now if
    it was not yet; KeyError if there is none.  A test or a plug-in adds its own to
    `MAKERS`."""
    from importlib import import_module

    name = image_names.maker_name(name)
    if name not in MAKERS and name in image_names.KNOWN:
        module, _, attribute = image_names.KNOWN[name].partition(":")
        MAKERS[name] = getattr(import_module(module), attribute)
    return MAKERS[name]
