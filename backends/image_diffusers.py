"""Image models through diffusers, as keyframe makers: FLUX.2, FLUX.2 Klein,
Qwen-Image-Edit-Plus and FLUX.1 Kontext, loaded from local folders only.

`DiffusersImages` is the shared base: it loads the pipeline once (offline,
safetensors only), places it on its device, seeds a CPU generator, reads the
reference pictures, calls the pipeline and gives back the picture at the
keyframe's size.  An entry is a capability table, the pipeline class its
folder must hold, the published recipe (steps, guidance) and, where the
pipeline's call differs, `arguments`.

Settings come as for the video backends (backends/diffusers_base.py): what
changes the picture (`steps`, `guidance`, the folder's identity `model_id`)
goes into the keyframe node; where and how it runs (`model`, `device`,
`dtype`, `offload`) reaches it through the runtime.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from .base import Estimate
from .diffusers_base import (
    INSTALL_HINT,
    ModelError,
    check_folder,
    check_load_options,
    check_unchanged,
    missing_packages,
    model_identity,
    model_index,
    place_pipeline,
    quiet_libraries,
    torch_device,
    torch_dtype_for,
)
from .image import ImageBackend, ImageCapabilities, ImageRequest

GREY = (128, 128, 128)  # the canvas an edit model edits when a shot has no reference


class DiffusersImages(ImageBackend):
    """Base of the diffusers image backends.  Subclasses set `pipeline_class` (the
    diffusers class, which the folder's model_index.json must name), the capability
    table and the recipe, and override `arguments` where their call differs."""

    pipeline_class: ClassVar[str] = ""
    default_steps: ClassVar[int] = 28
    default_guidance: ClassVar[float] = 4.0
    runtime_settings: ClassVar[tuple[str, ...]] = ("model", "device", "dtype", "offload")
    plan_settings: ClassVar[tuple[str, ...]] = ("steps", "guidance")
    # Packages its pipeline needs beyond diffusers' (import names), and why.
    extra_packages: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        *,
        model_id: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        model: str | Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        offload: str = "none",
    ):
        check_load_options(offload=offload, dtype=dtype)
        self.folder = check_folder(self.name, model)
        self.model_id = model_id  # what the plan was made with; checked when loading
        self.steps = int(steps if steps is not None else self.default_steps)
        self.guidance = float(guidance if guidance is not None else self.default_guidance)
        self.device_name, self.dtype_name, self.offload = device, dtype, offload
        self._pipe = None

    # -- what the planner asks of the class
    @classmethod
    def unavailable_reason(cls) -> str | None:
        if missing := missing_packages():
            return f"{', '.join(missing)} not installed ({INSTALL_HINT})"
        for package, why in cls.extra_packages.items():
            if importlib.util.find_spec(package) is None:
                return f"{package} not installed ({why}): pip install {package}"
        return None

    @classmethod
    def plan_options(cls, folder: Path | None, settings: dict) -> dict:
        """The folder's identity and the sampling settings, the recipe's filled in so
        that a change of default changes the keyframe's hash."""
        if folder is not None:
            cls.check_model(folder)
        steps = int(settings.get("steps", cls.recipe(folder)[0]))
        guidance = float(settings.get("guidance", cls.recipe(folder)[1]))
        options: dict[str, Any] = {"steps": steps, "guidance": guidance}
        if folder is not None:
            options["model_id"] = model_identity(folder)
        return options

    @classmethod
    def recipe(cls, folder: Path | None) -> tuple[int, float]:
        """(steps, guidance) the model is published to run with."""
        return cls.default_steps, cls.default_guidance

    @classmethod
    def check_model(cls, folder: Path) -> None:
        """A ModelError unless `folder` holds this backend's pipeline."""
        held = model_index(folder).get("_class_name") or "unnamed"
        if held != cls.pipeline_class:
            raise ModelError(
                f"{folder} holds a {held} model, which the {cls.name} image backend does not "
                f"load; it loads {cls.pipeline_class} folders"
            )

    # -- loading
    def pipeline(self):
        if self._pipe is None:
            if reason := self.unavailable_reason():
                raise ModelError(f"the {self.name} image backend cannot run here: {reason}")
            with quiet_libraries():
                self._pipe = self._load()
        return self._pipe

    def _load(self):
        import diffusers

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        self.check_model(self.folder)
        check_unchanged(self.folder, self.model_id)
        pipe = getattr(diffusers, self.pipeline_class).from_pretrained(
            self.folder, local_files_only=True, use_safetensors=True,
            dtype=self.torch_dtype(), **self.components(self.folder),
        )  # fmt: skip
        place_pipeline(pipe, self.device(), self.offload)
        return pipe

    def components(self, folder: Path) -> dict:
        """Components loaded here rather than by diffusers, by name (none by default)."""
        return {}

    def device(self):
        return torch_device(self.device_name)

    def torch_dtype(self):
        return torch_dtype_for(self.dtype_name, self.device())

    # -- making
    def make(self, request: ImageRequest) -> Image.Image:
        import torch

        pipe = self.pipeline()
        references = [self.reference(path) for path in request.references]
        width, height = self.size_for(request.width, request.height)
        with torch.no_grad():
            output = pipe(**self.arguments(request, references, width, height))
        picture = output.images[0].convert("RGB")
        if picture.size != (request.width, request.height):
            picture = picture.resize((request.width, request.height), Image.Resampling.LANCZOS)
        return picture

    def arguments(self, request: ImageRequest, references: list[Image.Image],
                  width: int, height: int) -> dict:  # fmt: skip
        """The pipeline call's keyword arguments: FLUX.2's, which most share."""
        import torch

        arguments = {
            "prompt": request.prompt,
            "height": height,
            "width": width,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance,
            # A CPU generator: the same seed makes the same noise on every device.
            "generator": torch.Generator(device="cpu").manual_seed(request.seed),
            "output_type": "pil",
        }
        if references:
            arguments["image"] = references
        return arguments

    def reference(self, path: Path) -> Image.Image:
        """A reference picture as RGB (transparency over grey), enlarged when it is
        smaller than the model reads (FLUX.2 refuses pictures under 64 px)."""
        with Image.open(path) as opened:
            picture = opened.convert("RGBA")
        canvas = Image.new("RGBA", picture.size, (*GREY, 255))
        picture = Image.alpha_composite(canvas, picture).convert("RGB")
        least = self.capabilities.min_reference_side
        if least and min(picture.size) < least:
            scale = least / min(picture.size)
            size = (round(picture.width * scale), round(picture.height * scale))
            picture = picture.resize(size, Image.Resampling.LANCZOS)
        return picture

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The size the model makes: the keyframe's, rounded to its multiple (and within
        its largest side); the picture is resized to the keyframe's size after."""
        caps = self.capabilities
        scale = 1.0
        if caps.max_side and max(width, height) > caps.max_side:
            scale = caps.max_side / max(width, height)
        multiple = caps.size_multiple
        return (
            max(multiple, round(width * scale / multiple) * multiple),
            max(multiple, round(height * scale / multiple) * multiple),
        )


# ------------------------------------------------------------------ entries


class Flux2Images(DiffusersImages):
    """FLUX.2 [dev]: text to image, or several reference pictures edited together."""

    name = "flux2"
    description = "FLUX.2 [dev] (diffusers): text to image, up to 10 reference pictures"
    pipeline_class = "Flux2Pipeline"
    capabilities = ImageCapabilities(
        max_references=10, edits=True, size_multiple=16, max_side=2048, min_reference_side=64,
        estimate=Estimate(device="cuda", steps=50, weights_bytes=90 * 2**30,
                          source="bf16 weights: a 32B transformer and a 24B text encoder"),
    )  # fmt: skip
    default_steps = 50
    default_guidance = 4.0
    extra_packages = {"torchvision": "transformers builds FLUX.2's Pixtral processor with it"}


class Flux2KleinImages(Flux2Images):
    """FLUX.2 [klein]: the small FLUX.2, a Qwen3 text encoder; the distilled folders
    (model_index `is_distilled`) run in 4 steps without guidance."""

    name = "flux2-klein"
    description = "FLUX.2 [klein] (diffusers): the small FLUX.2, several reference pictures"
    pipeline_class = "Flux2KleinPipeline"
    extra_packages = {}  # a Qwen tokenizer: no processor
    capabilities = Flux2Images.capabilities.model_copy(
        update={
            "max_references": 4,
            "estimate": Estimate(
                device="cuda",
                steps=4,
                weights_bytes=16 * 2**30,
                source="bf16 weights: a 4B transformer and Qwen3-4B",
            ),
        }  # fmt: skip
    )

    @classmethod
    def recipe(cls, folder: Path | None) -> tuple[int, float]:
        distilled = folder is not None and bool(model_index(folder).get("is_distilled"))
        return (4, 1.0) if distilled else (50, 4.0)


class QwenImageEditPlusImages(DiffusersImages):
    """Qwen-Image-Edit-Plus (2509): edits one to three pictures together by an
    instruction.  A shot with no reference picture gets a grey canvas to edit."""

    name = "qwen-image-edit-plus"
    description = "Qwen-Image-Edit-Plus (diffusers): edits up to 3 reference pictures together"
    pipeline_class = "QwenImageEditPlusPipeline"
    capabilities = ImageCapabilities(
        max_references=3, edits=True, size_multiple=16, max_side=2048,
        estimate=Estimate(device="cuda", steps=40, weights_bytes=58 * 2**30,
                          source="bf16 weights: a 20B transformer and Qwen2.5-VL-7B"),
    )  # fmt: skip
    default_steps = 40
    default_guidance = 4.0  # true classifier-free guidance, with a blank negative prompt

    def arguments(self, request: ImageRequest, references: list[Image.Image],
                  width: int, height: int) -> dict:  # fmt: skip
        arguments = super().arguments(request, references, width, height)
        arguments["image"] = references or [Image.new("RGB", (width, height), GREY)]
        del arguments["guidance_scale"]  # for guidance-distilled weights only
        arguments["true_cfg_scale"] = self.guidance
        if self.guidance > 1.0:
            arguments["negative_prompt"] = " "  # the authors' blank negative
        return arguments

    def components(self, folder: Path) -> dict:
        # transformers 5 builds Qwen2-VL's processor only with torchvision installed,
        # for its video half, which an image model never uses.
        if importlib.util.find_spec("torchvision") is not None:
            return {}
        PicturesOnlyProcessor = pictures_only_processor()  # noqa: N806 (a class)
        return {"processor": PicturesOnlyProcessor.from_pretrained(folder / "processor")}


class FluxKontextImages(DiffusersImages):
    """FLUX.1 Kontext [dev]: edits one picture by an instruction; a shot's first
    reference is the one it reads."""

    name = "flux-kontext"
    description = "FLUX.1 Kontext [dev] (diffusers): edits one reference picture"
    pipeline_class = "FluxKontextPipeline"
    capabilities = ImageCapabilities(
        max_references=1, edits=True, size_multiple=16, max_side=2048,
        estimate=Estimate(device="cuda", steps=28, weights_bytes=34 * 2**30,
                          source="bf16 weights: a 12B transformer, T5-XXL and CLIP-L"),
    )  # fmt: skip
    default_steps = 28
    default_guidance = 2.5

    def arguments(self, request: ImageRequest, references: list[Image.Image],
                  width: int, height: int) -> dict:  # fmt: skip
        arguments = super().arguments(request, references, width, height)
        canvas = Image.new("RGB", (width, height), GREY)
        arguments["image"] = references[0] if references else canvas
        # Kontext scales its output to `max_area` (a megapixel by default) at the
        # asked aspect: the keyframe's own area keeps its size.  The reference is
        # still resized to the nearest size Kontext was trained at.
        arguments["max_area"] = width * height
        return arguments


@cache
def pictures_only_processor():
    """Qwen2-VL's processor without its video half (see QwenImageEditPlusImages)."""
    from transformers import Qwen2VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class PicturesOnlyQwen2VLProcessor(Qwen2VLProcessor):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            self.image_token, self.video_token = "<|image_pad|>", "<|video_pad|>"
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return PicturesOnlyQwen2VLProcessor
