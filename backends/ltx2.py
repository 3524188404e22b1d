"""`ltx2`: Lightricks LTX-2 through diffusers, picture and sound made together.

The capability table follows the model's rules: frame counts of the form
8k+1, sides divisible by 32, 24 or 25 fps (48/50 for the high-rate variants),
and picture and sound generated together.  One model folder serves three
diffusers pipelines over the same components: `LTX2Pipeline` (text to audio
and video), `LTX2ImageToVideoPipeline` (from a first frame) and
`LTX2ConditionPipeline` (a last frame, with or without a first).  The sound
comes back at the vocoder's rate and becomes the shot's sound in the mix.

Which LTX-2 a folder holds is recognised from its configs (see
`backends.profiles`), never its name:

- the scheduler says dev or distilled: the distilled folder's scheduler uses
  its sigmas as they are (`use_dynamic_shifting` false, no `shift_terminal`),
  and gets 8 steps on the distilled sigmas with no guidance of any kind, and
  no negative prompt encoded;
- the transformer says whether spatio-temporal guidance (STG) can do
  anything: LTX-2.0's has no perturbed attention (`perturbed_attn` false), so
  its STG pass would cost a transformer pass a step for an output difference
  of exactly zero, and is not run.

LTX-2.0 dev runs as its authors run it without STG: 40 steps, guidance 4,
their default negative prompt.  The dev scheduler's terminal shift needs at
least 2 steps.

Both published LTX-2.0 models are made in two stages, as their authors make
them (diffusers' LTX-2 guide, after Lightricks' ti2vid_two_stages and
distilled pipelines): stage 1 at half the width and height with the recipe
above; the stage-1 video latents upsampled x2 by the latent upsampler that
ships in the folder (`latent_upsampler/`, `LTX2LatentUpsamplePipeline`); then
3 refinement steps at full size on the distilled stage-2 sigmas, re-noised to
the first of them, with no guidance, the stage-1 sound latents carried along.
The dev model refines with the distilled LoRA that ships beside it
(`ltx-2-19b-distilled-lora-384.safetensors` at the folder's root, loaded with
peft) and a scheduler that takes those sigmas as they are.  Two stages need
sides divisible by 64 (half of each divisible by the VAE's 32): the planner
rounds to them.  A folder without the upsampler (or, for dev, the LoRA or the
peft package) is made in one stage, and `director plan` says why;
`two_stage = false` (director.toml) or `--no-two-stage` asks for one stage.
"""

from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from .base import Capabilities, ShotRequest
from .diffusers_base import DiffusersBackend, ModelError, Rendered, quiet_libraries
from .profiles import FolderConfigs, OneOf, Profile

DISTILLED_STEPS = 8
# The authors' default negative prompt (Lightricks/LTX-2, ltx-pipelines' constants).
NEGATIVE = (
    "blurry, out of focus, overexposed, underexposed, low contrast, washed out colors, excessive "
    "noise, grainy texture, poor lighting, flickering, motion blur, distorted proportions, "
    "unnatural skin tones, deformed facial features, asymmetrical face, missing facial features, "
    "extra limbs, disfigured hands, wrong hand count, artifacts around text, inconsistent "
    "perspective, camera shake, incorrect depth of field, background too sharp, background "
    "clutter, distracting reflections, harsh shadows, inconsistent lighting direction, color "
    "banding, cartoonish rendering, 3D CGI look, unrealistic materials, uncanny valley effect, "
    "incorrect ethnicity, wrong gender, exaggerated expressions, wrong gaze direction, mismatched "
    "lip sync, silent or muted audio, distorted voice, robotic voice, echo, background noise, "
    "off-sync audio, incorrect dialogue, added dialogue, repetitive speech, jittery movement, "
    "awkward pauses, incorrect timing, unnatural transitions, inconsistent framing, tilted "
    "camera, flat lighting, inconsistent tone, cinematic oversaturation, stylized filters, or AI "
    "artifacts."
)
ALL = frozenset({"text", "first_frame", "last_frame"})
UPSAMPLER = "latent_upsampler"  # the folder's x2 latent upsampler, as the authors ship it
# The distilled LoRA the dev model refines with, at the folder's root (Lightricks/LTX-2).
REFINE_LORA = "*distilled-lora*.safetensors"
TWO_STAGE_MULTIPLE = 64  # half of each side must be divisible by the VAE's 32
# What diffusers' conversion writes for each scheduler (scripts/convert_ltx2_to_diffusers.py).
DEV_SCHEDULER = {"scheduler.use_dynamic_shifting": True, "scheduler.shift_terminal": 0.1}
DISTILLED_SCHEDULER = {"scheduler.use_dynamic_shifting": False, "scheduler.shift_terminal": None}
LTX_2_0 = {  # older conversions leave perturbed_attn out: it is off
    "model_index._class_name": "LTX2Pipeline",
    "transformer.perturbed_attn": OneOf((False, None)),
}
PROFILES = (
    Profile(
        name="LTX-2 dev", signature={**LTX_2_0, **DEV_SCHEDULER},
        steps=40, guidance=4.0, negative=NEGATIVE, takes=ALL, two_stage=True,
        folders=("Lightricks/LTX-2 (diffusers, dev)",),
    ),
    Profile(
        name="LTX-2 distilled", signature={**LTX_2_0, **DISTILLED_SCHEDULER},
        steps=DISTILLED_STEPS, guidance=1.0, takes=ALL, two_stage=True,
        folders=("Lightricks/LTX-2 (diffusers, distilled)",),
    ),
    # A later LTX-2 release: the pipeline's own defaults.
    Profile(
        name="LTX-2 (a later release)", signature={"model_index._class_name": "LTX2Pipeline"},
        steps=30, guidance=3.0, takes=ALL, published=False,
    ),
)  # fmt: skip


class LTX2Backend(DiffusersBackend):
    name = "ltx2"
    description = "LTX-2 (diffusers): joint audio+video, text/image to video"
    capabilities = Capabilities(
        frame_rates=(24.0, 25.0, 48.0, 50.0),
        size_multiple=32,
        max_side=2560,
        frame_multiple=8,
        frame_offset=1,
        max_frames=257,
        can_extend=True,
        memory_levels=4,  # see DiffusersBackend.memory_settings
        window_overlap=24,
        conditioning=frozenset({"text", "first_frame", "last_frame"}),
        joint_audio=True,
        audio_sample_rate=24000,
    )
    prompt_template = "ltx2.j2"
    auto_rank = 20
    default_steps = 30
    default_guidance = 3.0  # the pipeline's own default for the full model
    profiles = PROFILES
    version = "2"  # recipes from the configs: no STG on LTX-2.0, no negative when distilled
    # LTX-2 has one transformer and shifts its sigmas by itself: no guidance_2 or
    # flow_shift to set (their plan options stay None, as plans have always had them).
    plan_settings = (
        *(s for s in DiffusersBackend.plan_settings if s not in ("guidance_2", "flow_shift")),
        "distilled",
        "two_stage",
    )

    def __init__(
        self, *, distilled: bool = False, stg: bool = True, two_stage: bool = False, **settings
    ):
        super().__init__(**settings)
        self.distilled = distilled  # the distilled sigmas and no guidance of any kind
        self.stg = stg  # run the spatio-temporal guidance pass (the transformer can perturb)
        self.two_stage = two_stage  # half size, the latent upsampler, refinement at full size
        _check_steps(self.folder, self.steps)
        if two_stage and (lacks := _two_stage_lacks(self.folder, distilled)):
            raise ModelError(f"two-stage generation needs {lacks} in {self.folder}")

    @classmethod
    def plan_options(cls, folder: Path | None, settings: dict) -> dict:
        configs = FolderConfigs(folder) if folder is not None else None
        scheduler_distilled = configs is not None and _distilled_scheduler(configs)
        distilled = bool(settings.get("distilled", scheduler_distilled))
        if distilled and not scheduler_distilled:
            settings = {"steps": DISTILLED_STEPS, "guidance": 1.0, "negative": "", **settings}
        options = super().plan_options(folder, settings)
        if folder is not None:
            _check_steps(folder, options["steps"])
        stg = configs is None or configs.value("transformer.perturbed_attn") is True
        options |= {"distilled": distilled, "stg": stg and not distilled}
        if folder is not None:  # plans made without a folder keep their bytes
            options["two_stage"] = _two_stage(folder, distilled, settings.get("two_stage"))
        return options

    @classmethod
    def capabilities_for(cls, folder: Path, options: dict) -> dict:
        update = super().capabilities_for(folder, options)
        if options.get("two_stage"):
            update["size_multiple"] = TWO_STAGE_MULTIPLE
        return update

    @classmethod
    def plan_notes(cls, folder: Path, options: dict) -> list[str]:
        if options.get("two_stage"):
            refine = "" if options.get("distilled") else " with the distilled LoRA"
            return [
                f"two stages: half size, the x2 latent upsampler, {REFINE_STEPS} refinement "
                f"steps at full size{refine}; sides divisible by {TWO_STAGE_MULTIPLE}"
            ]
        if not cls.recognise(folder).profile.two_stage:
            return []
        lacks = _two_stage_lacks(folder, bool(options.get("distilled")))
        why = f"the folder has no {lacks}" if lacks else "two_stage is off"
        return [f"one stage, not the authors' two: {why}"]

    def render(
        self, request: ShotRequest, first: Image.Image | None, last: Image.Image | None
    ) -> Rendered:
        pipe, inputs = self._pipeline_for(first, last)
        arguments = self.common_arguments(pipe, request) | {"frame_rate": float(request.fps)}
        if self.two_stage:
            video, audio = self._two_stages(pipe, inputs, arguments)
        else:
            output = pipe(**inputs, **arguments, **self._schedule())
            video, audio = output.frames[0], output.audio[0]
        sound = audio.detach().float().cpu().numpy().T  # (channels, n) -> (n, channels)
        return Rendered(
            frames=video,
            audio=np.ascontiguousarray(sound),
            sample_rate=int(pipe.vocoder.config.output_sampling_rate),
        )

    def _pipeline_for(self, first: Image.Image | None, last: Image.Image | None):
        """The pipeline variant for the keyframes, and their arguments."""
        from diffusers import LTX2ConditionPipeline, LTX2ImageToVideoPipeline, LTX2Pipeline

        if last is not None:
            from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

            conditions = [LTX2VideoCondition(frames=last, index=-1)]
            if first is not None:
                conditions.insert(0, LTX2VideoCondition(frames=first, index=0))
            return self.pipeline(LTX2ConditionPipeline), {"conditions": conditions}
        if first is not None:
            return self.pipeline(LTX2ImageToVideoPipeline), {"image": first}
        return self.pipeline(LTX2Pipeline), {}

    def _two_stages(self, pipe, inputs: dict, arguments: dict):
        """The authors' two-stage run: the recipe at half size, its video latents
        upsampled x2, then the distilled stage-2 sigmas at full size from those
        latents re-noised to the first sigma, without guidance.  The keyframes
        condition both stages (each pipeline fits them to its size)."""
        from diffusers.pipelines.ltx2.utils import STAGE_2_DISTILLED_SIGMA_VALUES as SIGMAS

        half = {"width": arguments["width"] // 2, "height": arguments["height"] // 2}
        stage_1 = arguments | half | self._schedule() | {"output_type": "latent"}
        video, audio = pipe(**inputs, **stage_1, return_dict=False)
        upsampled = self._upsampler()(latents=video, output_type="latent", return_dict=False)[0]
        unguided = {k: v for k, v in arguments.items() if not k.startswith("negative_")}
        stage_2 = {
            "latents": upsampled,
            "audio_latents": audio,
            "num_inference_steps": len(SIGMAS),
            "sigmas": list(SIGMAS),
            "noise_scale": SIGMAS[0],
        }
        refine = unguided | _UNGUIDED | stage_2
        with self._refining(pipe):
            output = pipe(**inputs, **refine)
        return output.frames[0], output.audio[0]

    def _upsampler(self):
        """The x2 latent upsampler of the folder, over the pipeline's VAE (loaded once)."""
        from diffusers import LTX2LatentUpsamplePipeline
        from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

        if LTX2LatentUpsamplePipeline not in self._pipelines:
            with quiet_libraries():
                model = LTX2LatentUpsamplerModel.from_pretrained(
                    self.folder / UPSAMPLER, local_files_only=True, use_safetensors=True,
                    dtype=self.torch_dtype(),
                )  # fmt: skip
                upsample = LTX2LatentUpsamplePipeline(
                    vae=self.pipeline().vae, latent_upsampler=model
                )
                self._place(upsample)
            self._pipelines[LTX2LatentUpsamplePipeline] = upsample
        return self._pipelines[LTX2LatentUpsamplePipeline]

    @contextmanager
    def _refining(self, pipe):
        """The dev model as its authors refine with it: its distilled LoRA on, and a
        scheduler that takes the stage-2 sigmas as they are; as it was afterwards.
        The distilled model refines as it is."""
        if self.distilled:
            yield
            return
        scheduler = pipe.scheduler
        self._load_refine_lora(pipe)
        pipe.scheduler = type(scheduler).from_config(
            scheduler.config, use_dynamic_shifting=False, shift_terminal=None
        )
        pipe.transformer.enable_lora()
        try:
            yield
        finally:
            pipe.transformer.disable_lora()
            pipe.scheduler = scheduler

    def _load_refine_lora(self, pipe) -> None:
        if getattr(self, "_lora_loaded", False):
            return
        lora = _refine_lora(self.folder)
        if lora is None:
            raise ModelError(f"the dev model's refinement needs {REFINE_LORA} in {self.folder}")
        with quiet_libraries():
            pipe.load_lora_weights(
                self.folder, weight_name=lora.name, adapter_name="refine", local_files_only=True
            )
        pipe.transformer.disable_lora()  # on only while refining
        self._lora_loaded = True

    def encode_prompt(self, pipe, prompt: str, negative: str) -> dict:
        guided = self._guided()
        embeds, mask, negative_embeds, negative_mask = pipe.encode_prompt(
            prompt, negative, do_classifier_free_guidance=guided, device=pipe._execution_device
        )
        encoded = {"prompt_embeds": embeds, "prompt_attention_mask": mask}
        if guided:  # else the negative prompt would be encoded for nothing
            encoded |= {
                "negative_prompt_embeds": negative_embeds,
                "negative_prompt_attention_mask": negative_mask,
            }
        return encoded

    def _guided(self) -> bool:
        """Does the run use classifier-free guidance (and so a negative prompt)?
        A distilled run has none unless `guidance` asks for it."""
        return not self.distilled or self.guidance > 1.0

    def _schedule(self) -> dict:
        schedule = {} if self.stg else {"stg_scale": 0.0, "audio_stg_scale": 0.0}
        if not self.distilled:
            return schedule
        from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

        # No guidance beyond `guidance` (1.0 by default for a distilled model).
        schedule |= {k: v for k, v in _UNGUIDED.items() if k != "guidance_scale"}
        if self.steps == len(DISTILLED_SIGMA_VALUES):
            schedule["sigmas"] = list(DISTILLED_SIGMA_VALUES)
        return schedule

    def pipeline_class_for(self, class_name: str) -> type | None:
        import diffusers

        # Any LTX-2 folder loads as the text-to-video pipeline; the others share its parts.
        return diffusers.LTX2Pipeline


REFINE_STEPS = 3  # len(STAGE_2_DISTILLED_SIGMA_VALUES)
# No guidance of any kind: what the distilled model and every refinement run with.
_UNGUIDED = {
    "guidance_scale": 1.0,
    "audio_guidance_scale": 1.0,
    "stg_scale": 0.0,
    "audio_stg_scale": 0.0,
    "modality_scale": 1.0,
    "audio_modality_scale": 1.0,
}


def _two_stage(folder: Path, distilled: bool, asked: bool | None) -> bool:
    """Made in two stages?  As asked; by default where the profile's authors do and
    the folder holds what it takes.  Asked for where it cannot: a ModelError."""
    lacks = _two_stage_lacks(folder, distilled)
    if asked is None:
        return LTX2Backend.recognise(folder).profile.two_stage and lacks is None
    if asked and lacks is not None:
        raise ModelError(f"two_stage: the LTX-2 folder {folder} has no {lacks}")
    return bool(asked)


def _two_stage_lacks(folder: Path, distilled: bool) -> str | None:
    """What of two-stage generation the folder (and this machine) lacks, or None."""
    if not (folder / UPSAMPLER / "config.json").is_file():
        return f"{UPSAMPLER}/ (the x2 latent upsampler)"
    if distilled:
        return None
    if _refine_lora(folder) is None:
        return f"distilled LoRA ({REFINE_LORA}) for the dev model's refinement"
    if importlib.util.find_spec("peft") is None:
        return "peft package, which loads the distilled LoRA (pip install peft)"
    return None


def _refine_lora(folder: Path) -> Path | None:
    return next(iter(sorted(folder.glob(REFINE_LORA))), None)


def _distilled_scheduler(configs: FolderConfigs) -> bool:
    """Does the scheduler take the distilled sigmas as they are?  diffusers'
    conversion turns dynamic and terminal shifting off for the distilled weights."""
    return all(configs.value(key) == value for key, value in DISTILLED_SCHEDULER.items())


def _check_steps(folder: Path, steps: int) -> None:
    """The terminal shift of the dev scheduler divides by zero at one step: the
    only sigma is 1, and the stretch to the terminal value is 0/0."""
    terminal = FolderConfigs(folder).value("scheduler.shift_terminal")
    if terminal is not None and steps < 2:
        raise ModelError(
            f"the LTX-2 model in {folder} needs at least 2 steps (its scheduler stretches "
            f"the schedule to a terminal shift of {terminal}); asked for {steps}"
        )
