"""The shared runtime of the backends that drive a diffusers pipeline (LTX-2, Wan).

A `DiffusersBackend` loads its pipeline once, from a local model folder only,
and keeps it for every shot of a compile.  Its constructor takes two kinds of
options:

- what changes the pictures, which the planner puts in every generation node
  (and so in the cache key): `model_id` (the identity of the model folder, see
  `model_identity`), `profile` (which published model the folder holds, see
  `backends.profiles`), `steps`, `guidance`, `guidance_2`, `flow_shift`,
  `negative` and `colour_match`; the profile gives the defaults;
- how and where it runs, which never enters the plan: `model` (the folder),
  `device`, `dtype`, `offload` and `vae_tiling`.  The runtime passes these
  through `RunContext.runtime`.

A subclass names its pipelines and turns a `ShotRequest` into one pipeline
call (`render`); this class does the rest: loading, placing the model on its
device, seeding, the first and last keyframes, colour matching and turning the
pipeline's output into uint8 frames.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from .base import Backend, Conditioning, GeneratedShot, ShotRequest
from .conditioning import keyframe, match_frames
from .diffusers_settings import (  # noqa: F401 (DEVICES_HELP, DTYPES, OFFLOADS: re-exported)
    DEVICES_HELP,
    DTYPES,
    INSTALL_HINT,
    OFFLOADS,
    REQUIRED_PACKAGES,
    ModelError,
)
from .profiles import Profile, Recognition, by_name, recognise

KEPT_EMBEDDINGS = 2  # encoded prompts kept for the next requests
# Files read for a model folder's identity: configs and tokenizers by content,
# weights by name and size (hashing tens of gigabytes at every compile would
# cost more than it protects against).
_CONFIG_SUFFIXES = (".json", ".txt", ".model", ".jinja")


@dataclass
class Rendered:
    """One pipeline call's output: frames as floats in [0, 1], and sound if the model makes it."""

    frames: Any  # (frames, height, width, 3) numpy array or tensor
    audio: np.ndarray | None = None  # (samples, channels) float32
    sample_rate: int | None = None


# ------------------------------------------------------------ model folders


def model_identity(folder: Path) -> str:
    """A short hash that changes when the model in `folder` does: its config and
    tokenizer files by content, its weight files by name and size."""
    digest = hashlib.sha256()
    for path in sorted(_identity_files(folder)):
        relative = path.relative_to(folder).as_posix()
        if path.suffix in _CONFIG_SUFFIXES:
            digest.update(f"{relative}\0".encode() + path.read_bytes() + b"\0")
        else:
            digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
    return digest.hexdigest()[:16]


def _identity_files(folder: Path) -> Iterator[Path]:
    for path in folder.iterdir():
        if path.is_file():
            yield path
        elif path.is_dir() and not path.name.startswith("."):
            yield from (p for p in path.iterdir() if p.is_file())


def model_index(folder: Path) -> dict:
    """The folder's `model_index.json`: which pipeline class and components it holds."""
    import json

    index = folder / "model_index.json"
    if not index.is_file():
        raise ModelError(
            f"{folder} is not a diffusers model folder: it has no model_index.json "
            "(download the diffusers version of the model)"
        )
    return json.loads(index.read_text(encoding="utf-8"))


def check_load_options(*, offload: str, dtype: str) -> None:
    """A ModelError naming the choices for an offload or dtype no pipeline takes."""
    if offload not in OFFLOADS:
        raise ModelError(f"offload must be one of {', '.join(OFFLOADS)}, not {offload!r}")
    if dtype not in DTYPES:
        raise ModelError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")


def check_unchanged(folder: Path, model_id: str | None) -> None:
    """A ModelError if the folder's model is not the one the plan was made with."""
    if model_id is not None and model_identity(folder) != model_id:
        raise ModelError(f"the model in {folder} changed after the plan was made; compile again")


def torch_device(name: str):
    """The torch device `name` ("auto", "cpu", "cuda:1", "mps") stands for, or a
    ModelError saying which to use."""
    import torch

    if name == "auto":
        return torch.device(accelerator() or "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ModelError(f"unknown device {name!r}; use {DEVICES_HELP}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {name} asked for, but torch sees no CUDA GPU")
    return device


def torch_dtype_for(name: str, device):
    """The torch dtype `name` stands for; "auto" is bfloat16 on a CUDA GPU, else float32."""
    import torch

    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, name)


def place_pipeline(pipe, device, offload: str) -> None:
    """`pipe` on `device`: whole, or offloaded to the CPU between models ("model")
    or layer by layer ("sequential"), which needs a GPU to offload from."""
    pipe.set_progress_bar_config(disable=True)
    if offload != "none" and device.type == "cpu":
        raise ModelError(f"--offload {offload} needs a GPU; on the CPU use --offload none")
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)


def check_folder(name: str, model: str | Path | None) -> Path:
    """The model folder as an existing local directory, or a ModelError saying what to do."""
    if model is None or str(model) == "":
        raise ModelError(
            f"no model folder is configured for the {name} backend: pass --model PATH, or "
            f'add to director.toml:\n  [{name}]\n  model = "/path/to/the/model/folder"'
        )
    folder = Path(model).expanduser()
    if folder.is_dir():
        return folder.resolve()
    if not folder.exists() and str(model).count("/") == 1 and not str(model).startswith("."):
        raise ModelError(
            f"{model!r} is not a folder here; it looks like a hub name. shot-director loads "
            f"models only from local folders: download it first (for example `hf download "
            f"{model} --local-dir models/{Path(str(model)).name}`) and pass that folder"
        )
    raise ModelError(f"the {name} model folder {folder} does not exist")


@contextmanager
def quiet_libraries():
    """diffusers and transformers without their loading bars and notices, which
    would interleave with the compile's own progress; errors still show."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    saved = [(lib, lib.get_verbosity()) for lib in (diffusers_logging, transformers_logging)]
    bars = [
        (lib, lib.is_progress_bar_enabled()) for lib in (diffusers_logging, transformers_logging)
    ]
    try:
        for lib, _ in saved:
            lib.set_verbosity_error()
            lib.disable_progress_bar()
        yield
    finally:
        for lib, level in saved:
            lib.set_verbosity(level)
        for lib, enabled in bars:
            if enabled:
                lib.enable_progress_bar()


@cache
def missing_packages() -> list[str]:
    return [name for name in REQUIRED_PACKAGES if importlib.util.find_spec(name) is None]


@cache
def accelerator() -> str | None:
    """'cuda' or 'mps' when torch can use one here, else None.  Imports torch."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return None


# ---------------------------------------------------------------- backend


class DiffusersBackend(Backend):
    """Base of the diffusers backends.  Subclasses set the capability table,
    `default_steps`, `default_guidance` and `profiles` (the models they know,
    the last ones catching any folder of their pipelines), and write `render`."""

    default_steps: ClassVar[int] = 30
    default_guidance: ClassVar[float] = 5.0
    profiles: ClassVar[tuple[Profile, ...]] = ()
    # Settings that say how and where the model runs, never what it makes.
    runtime_settings: ClassVar[tuple[str, ...]] = (
        "model", "device", "dtype", "offload", "vae_tiling",
    )  # fmt: skip
    # Settings that change the pictures, and so go into the plan.
    plan_settings: ClassVar[tuple[str, ...]] = (
        "steps", "guidance", "guidance_2", "flow_shift", "negative", "colour_match",
    )  # fmt: skip

    def __init__(
        self,
        *,
        model_id: str | None = None,
        profile: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        guidance_2: float | None = None,
        flow_shift: float | None = None,
        negative: str = "",
        colour_match: bool = True,
        model: str | Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        offload: str = "none",
        vae_tiling: bool = False,
    ):
        check_load_options(offload=offload, dtype=dtype)
        self.folder = check_folder(self.name, model)
        self.model_id = model_id  # what the plan was made with; checked when loading
        self.steps = int(steps if steps is not None else self.default_steps)
        self.guidance = float(guidance if guidance is not None else self.default_guidance)
        if self.steps < 1:
            raise ModelError(f"steps must be at least 1, not {self.steps}")
        self.guidance_2 = None if guidance_2 is None else float(guidance_2)
        self.flow_shift = None if flow_shift is None else float(flow_shift)
        self.negative = negative  # used where the script gives no negative prompt
        # The plan's profile, by name; a plan made without a folder recognises it now.
        self.profile = (
            by_name(self.profiles, profile) if profile else self.recognise(self.folder).profile
        )
        self.colour_match = colour_match
        self.device_name = device
        self.dtype_name = dtype
        self.offload = offload
        self.vae_tiling = vae_tiling
        self._pipelines: dict[type, Any] = {}
        self._memory_level = 0
        self._embeddings: dict[tuple[str, str], dict] = {}  # (prompt, negative) -> arguments

    # -- what the planner asks of a backend class
    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this backend cannot run here, as far as it knows: its packages.  Whether
        a model folder is configured is the compiler's question, asked with its
        settings (`director.models.unavailable_reason`); a backend never reads them."""
        if missing := missing_packages():
            return f"{', '.join(missing)} not installed ({INSTALL_HINT})"
        return None

    @classmethod
    def plan_options(cls, folder: Path | None, settings: dict) -> dict:
        """The constructor options that go into the plan for a model folder and the
        user's settings: the folder's identity, its profile and the sampling
        settings, the profile's recipe (else this backend's defaults) filled in so
        that a change of default changes the hash.  `flow_shift` None: the
        profile's for the frame size."""
        profile = cls.recognise(folder).profile if folder is not None else None
        guidance_2 = settings.get("guidance_2", profile.guidance_2 if profile else None)
        flow_shift = settings.get("flow_shift")
        options = {
            "profile": profile.name if profile else None,
            "steps": int(settings.get("steps", profile.steps if profile else cls.default_steps)),
            "guidance": float(
                settings.get("guidance", profile.guidance if profile else cls.default_guidance)
            ),
            "guidance_2": None if guidance_2 is None else float(guidance_2),
            "flow_shift": None if flow_shift is None else float(flow_shift),
            "negative": str(settings.get("negative", profile.negative if profile else "")),
            "colour_match": bool(settings.get("colour_match", True)),
        }
        if folder is not None:
            options["model_id"] = model_identity(folder)
        return options

    @classmethod
    def recognise(cls, folder: Path) -> Recognition:
        """The profile of the model in `folder`, from its configs, and why."""
        found = recognise(folder, cls.profiles)
        if found is None:
            class_name = model_index(folder).get("_class_name") or "unnamed"
            raise ModelError(
                f"{folder} holds a {class_name} model, which the {cls.name} backend does not "
                f"load; it loads {', '.join(sorted(cls.pipeline_classes()))} folders"
            )
        return found

    @classmethod
    def pipeline_classes(cls) -> set[str]:
        """The model_index class names of the folders this backend loads."""
        return {
            p.signature["model_index._class_name"]
            for p in cls.profiles
            if "model_index._class_name" in p.signature
        }

    @classmethod
    def bound_to(cls, folder: Path, options: dict | None = None) -> type[DiffusersBackend]:
        """This backend with the capability table of the model in `folder` (its
        frame rates, sides and frames) run with the plan `options`, for planning;
        itself when they are the same."""
        update = cls.capabilities_for(folder, options or {})
        if not update:
            return cls
        capabilities = cls.capabilities.model_copy(update=update)
        return type(cls.__name__, (cls,), {"capabilities": capabilities, "__doc__": cls.__doc__})

    @classmethod
    def capabilities_for(cls, folder: Path, options: dict) -> dict:
        """What the model in `folder`, run with the plan `options`, changes in the
        capability table: the profile's."""
        return dict(cls.recognise(folder).profile.capabilities)

    @classmethod
    def plan_notes(cls, folder: Path, options: dict) -> list[str]:
        """What `director plan` says of how the model in `folder` will run with the
        plan `options`, beyond which model it is."""
        return []

    @classmethod
    def conditioning_for(cls, folder: Path) -> frozenset[Conditioning]:
        """What the model in `folder` can be conditioned on (the capability table's
        `conditioning` is what the backend takes with the right model)."""
        return cls.recognise(folder).profile.takes

    @classmethod
    def conditioning_needed(cls, folder: Path) -> frozenset[Conditioning]:
        """What every shot must give the model in `folder` (image to video: a first frame)."""
        return cls.recognise(folder).profile.needs

    @classmethod
    def model_kind(cls, folder: Path) -> str:
        """The model in a few words, for `director doctor` and messages."""
        return cls.recognise(folder).profile.name

    # -- loading
    def pipeline(self, pipeline_class: type | None = None):
        """The loaded pipeline, or one of another class over the same components."""
        if missing := missing_packages():
            raise ModelError(f"the {self.name} backend needs {', '.join(missing)}: {INSTALL_HINT}")
        with quiet_libraries():
            if not self._pipelines:
                base = self._load()
                self._pipelines[type(base)] = base
            if pipeline_class is None:
                return next(iter(self._pipelines.values()))
            if pipeline_class not in self._pipelines:
                base = next(iter(self._pipelines.values()))
                # from_pipe casts to float32 unless told otherwise: a bf16 model
                # would double in memory at its first keyframed shot.
                derived = pipeline_class.from_pipe(base, dtype=self.torch_dtype())
                self._place(derived)
                self._pipelines[pipeline_class] = derived
        return self._pipelines[pipeline_class]

    def _load(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        check_unchanged(self.folder, self.model_id)
        import diffusers

        class_name = model_index(self.folder).get("_class_name", "")
        pipeline_class = self.pipeline_class_for(class_name) or diffusers.DiffusionPipeline
        pipe = pipeline_class.from_pretrained(  # weights from safetensors only: no pickle
            self.folder, local_files_only=True, use_safetensors=True, dtype=self.torch_dtype()
        )
        self._place(pipe)
        return pipe

    def pipeline_class_for(self, class_name: str) -> type | None:
        """The pipeline class to load a folder whose model_index names `class_name`."""
        import diffusers

        return getattr(diffusers, class_name, None)

    def _place(self, pipe) -> None:
        device = self.device()
        # On the CPU the level's offload is the configured one (memory_settings).
        offload, tiling = self.memory_settings(self._memory_level, device.type)
        place_pipeline(pipe, device, offload)
        if tiling and getattr(pipe, "vae", None) is not None:
            pipe.vae.enable_tiling()

    # -- memory levels (ShotRequest.memory_level): the runtime asks for the next
    # after running out of memory.  The pictures do not change, except for the
    # tiled VAE decode's seams, which are blended.
    def memory_settings(self, level: int, device_type: str) -> tuple[str, bool]:
        """The offload and VAE tiling at memory `level`: 0 as configured; 1 whole
        models offloaded between uses; 2 also a tiled VAE; 3 layer-by-layer
        offload.  On the CPU there is nowhere to offload to: only tiling changes."""
        offload, tiling = self.offload, self.vae_tiling or level >= 2
        if device_type != "cpu":
            if level >= 1 and offload == "none":
                offload = "model"
            if level >= 3:
                offload = "sequential"
        return offload, tiling

    def use_memory_level(self, level: int) -> None:
        """Use at least memory level `level` from now on (never goes back up)."""
        if level <= self._memory_level:
            return
        self._memory_level = level
        with quiet_libraries():
            for pipe in self._pipelines.values():
                self._place(pipe)

    @classmethod
    def resources(cls, settings: dict) -> dict[str, float]:
        """A GPU (and a CPU), unless the settings put the model on the CPU or on mps."""
        device = str(settings.get("device", "auto"))
        if device.startswith("cpu") or device.startswith("mps"):
            return {"num_cpus": 1}
        return {"num_cpus": 1, "num_gpus": 1}

    def release_memory(self) -> None:
        import gc

        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def device(self):
        return torch_device(self.device_name)

    def torch_dtype(self):
        return torch_dtype_for(self.dtype_name, self.device())

    def generator(self, seed: int):
        """A CPU generator: the same seed makes the same noise on every device and offload."""
        import torch

        return torch.Generator(device="cpu").manual_seed(seed)

    # -- generation
    def generate(self, request: ShotRequest) -> GeneratedShot:
        self.use_memory_level(request.memory_level)
        first = self.first_frame(request)
        last = self.last_frame(request)
        rendered = self.render(request, first, last)
        frames = to_uint8(rendered.frames)
        if first is not None and self.colour_match:
            frames = match_frames(frames, np.asarray(first))
        audio = rendered.audio
        if audio is not None:
            audio = fit_audio(audio, request.frames / request.fps, rendered.sample_rate)
        return GeneratedShot(frames=frames, audio=audio, sample_rate=rendered.sample_rate)

    def first_frame(self, request: ShotRequest) -> Image.Image | None:
        """The frame the window starts from, at the request's size: the script's
        `keyframe first:` when it pins one, else the frame it continues from."""
        if request.keyframe_first is not None:
            return keyframe(request.keyframe_first, request.width, request.height)
        if request.previous_frame is not None:
            return keyframe(request.previous_frame, request.width, request.height)
        return None

    def last_frame(self, request: ShotRequest) -> Image.Image | None:
        if request.keyframe_last is None:
            return None
        return keyframe(request.keyframe_last, request.width, request.height)

    def common_arguments(self, pipe, request: ShotRequest) -> dict:
        """The arguments every text-to-video pipeline call takes the same way."""
        return {
            **self.prompt_embeddings(pipe, request.prompt, request.negative or self.negative),
            "height": request.height,
            "width": request.width,
            "num_frames": request.frames,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance,
            "generator": self.generator(request.seed),
            "output_type": "np",
        }

    def prompt_embeddings(self, pipe, prompt: str, negative: str) -> dict:
        """The prompt and negative prompt, encoded once for consecutive requests that
        share them (the takes and windows of a shot): the text encoder (Gemma 3 12B
        for LTX-2, UMT5-XXL for Wan) runs once a shot, not once a window.  Only the
        last few are kept: LTX-2's embeddings of one prompt are hundreds of MB."""
        import torch

        key = (prompt, negative)
        if key not in self._embeddings:
            with torch.no_grad():
                encoded = self.encode_prompt(pipe, prompt, negative)
            self._embeddings[key] = encoded
            while len(self._embeddings) > KEPT_EMBEDDINGS:
                self._embeddings.pop(next(iter(self._embeddings)))
        return self._embeddings[key]

    def encode_prompt(self, pipe, prompt: str, negative: str) -> dict:
        """The pipeline's own prompt encoding, as the keyword arguments of its call."""
        raise NotImplementedError

    def render(
        self, request: ShotRequest, first: Image.Image | None, last: Image.Image | None
    ) -> Rendered:
        """One pipeline call for the request; `first` and `last` are its keyframes at size."""
        raise NotImplementedError


# ----------------------------------------------------------------- outputs


def to_uint8(frames) -> Iterator[np.ndarray]:
    """A pipeline's frames ((F, H, W, 3) floats in [0, 1], a tensor, or PIL images)
    as HxWx3 uint8 arrays, converted one at a time."""
    if hasattr(frames, "detach"):  # a torch tensor
        frames = frames.detach().float().cpu().numpy()
    for frame in frames:
        if isinstance(frame, Image.Image):
            yield np.asarray(frame.convert("RGB"))
        elif frame.dtype == np.uint8:
            yield frame
        else:
            yield np.clip(np.round(frame * 255.0), 0, 255).astype(np.uint8)


def fit_audio(audio: np.ndarray, seconds: float, rate: int | None) -> np.ndarray:
    """(samples, channels) float32 trimmed or padded with silence to `seconds`, within [-1, 1]."""
    if rate is None:
        raise ModelError("the pipeline returned sound without a sample rate")
    samples = round(seconds * rate)
    audio = np.clip(audio[:samples].astype(np.float32), -1.0, 1.0)
    if len(audio) < samples:
        audio = np.vstack([audio, np.zeros((samples - len(audio), audio.shape[1]), np.float32)])
    return audio
