"""`tinyfm`: the embedded flow-matching model, picture and sound together, on any CPU.

The capability table: 12 fps (the model's own rate; the film's rate is made
by the `select` node), any size (the 16x16 latent grid is decoded to it),
16 kHz sound made with the picture, conditioned on the prompt (the
`tinyfm.j2` template, in the words of the training captions) and on one
reference image: the first reference of the shot's first character, else the
shot's first image reference.  The weights ship inside the package; torch is
imported on the first shot, not when the registry lists the backend.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from director.media import kind_of

from ..base import Backend, Capabilities, GeneratedShot, ShotRequest
from . import WEIGHTS

REFERENCE_SIDE = 64  # the training clips' reference images


class TinyFMBackend(Backend):
    name = "tinyfm"
    description = "embedded flow-matching model: picture and sound together, on any CPU"
    version = "1"  # bumped with the shipped weights
    capabilities = Capabilities(
        frame_rates=(12.0,),
        size_multiple=2,
        conditioning=frozenset({"text", "reference_images"}),
        joint_audio=True,
        audio_sample_rate=16000,
    )
    prompt_template = "tinyfm.j2"
    auto_rank = -1  # a real model, but a tiny one: `backend: auto` keeps the animatic

    def __init__(self):
        self._model = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        missing = [p for p in ("torch", "safetensors") if importlib.util.find_spec(p) is None]
        if missing:
            return f"{', '.join(missing)} not installed (pip install torch, then this package)"
        if not WEIGHTS.is_file():
            return f"no weights at {WEIGHTS} (python -m backends.tinyfm.train)"
        return None

    def generate(self, request: ShotRequest) -> GeneratedShot:
        """The shot in one pass: all its frames and its sound (mono, 16 kHz)."""
        import torch

        from .pipeline import generate, load_model

        threads = torch.get_num_threads()
        # The model's matrices are small: one thread is as quick on a quiet
        # machine and many times quicker on a busy one, where threads wait on
        # each other (a 4 s shot: 2.5-3 s on one thread, 4-23 s on two).
        torch.set_num_threads(1)
        try:
            if self._model is None:
                self._model = load_model()
            frames, audio = generate(
                self._model,
                request.prompt,
                reference_for(request),
                request.frames / request.fps,
                seed=request.seed,
                size=(request.width, request.height),
                fps=request.fps,
            )
        finally:
            torch.set_num_threads(threads)
        return GeneratedShot(frames=iter(frames), audio=audio[:, None], sample_rate=16000)


def reference_for(request: ShotRequest) -> np.ndarray | None:
    """The image the character's look is taken from: (64, 64, 3) uint8, or None."""
    paths = [ref for c in request.characters for ref in c.refs] + list(request.reference_images)
    images = [p for p in paths if kind_of(str(p)) == "image"]
    return square_image(images[0]) if images else None


def square_image(path: Path, side: int = REFERENCE_SIDE) -> np.ndarray:
    """An image scaled to cover a square and centre-cropped, RGB uint8."""
    with Image.open(path) as opened:
        image = opened.convert("RGB")
        scale = side / min(image.size)
        size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        return np.asarray(image.crop((left, top, left + side, top + side)))
