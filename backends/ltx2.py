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
their default negative prompt.  The authors' two-stage generation (half-size
stage 1, the x2 latent upsampler of the folder, 3 refinement steps) is not
implemented: every shot is made in one stage at its size.  The dev
scheduler's terminal shift needs at least 2 steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .base import Capabilities, ShotRequest
from .diffusers_base import DiffusersBackend, ModelError, Rendered
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
        steps=40, guidance=4.0, negative=NEGATIVE, takes=ALL,
        folders=("Lightricks/LTX-2 (diffusers, dev)",),
        notes="one stage; the authors' two-stage run with the latent upsampler is not implemented",
    ),
    Profile(
        name="LTX-2 distilled", signature={**LTX_2_0, **DISTILLED_SCHEDULER},
        steps=DISTILLED_STEPS, guidance=1.0, takes=ALL,
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
    plan_settings = (*DiffusersBackend.plan_settings, "distilled")

    def __init__(self, *, distilled: bool = False, stg: bool = True, **settings):
        super().__init__(**settings)
        self.distilled = distilled  # the distilled sigmas and no guidance of any kind
        self.stg = stg  # run the spatio-temporal guidance pass (the transformer can perturb)
        _check_steps(self.folder, self.steps)

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
        return {**options, "distilled": distilled, "stg": stg and not distilled}

    def render(
        self, request: ShotRequest, first: Image.Image | None, last: Image.Image | None
    ) -> Rendered:
        from diffusers import LTX2ConditionPipeline, LTX2ImageToVideoPipeline, LTX2Pipeline

        if last is not None:
            from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

            conditions = [LTX2VideoCondition(frames=last, index=-1)]
            if first is not None:
                conditions.insert(0, LTX2VideoCondition(frames=first, index=0))
            pipe, inputs = self.pipeline(LTX2ConditionPipeline), {"conditions": conditions}
        elif first is not None:
            pipe, inputs = self.pipeline(LTX2ImageToVideoPipeline), {"image": first}
        else:
            pipe, inputs = self.pipeline(LTX2Pipeline), {}
        arguments = self.common_arguments(pipe, request) | {"frame_rate": float(request.fps)}
        output = pipe(**inputs, **arguments, **self._schedule())
        audio = output.audio[0].detach().float().cpu().numpy().T  # (channels, n) -> (n, channels)
        return Rendered(
            frames=output.frames[0],
            audio=np.ascontiguousarray(audio),
            sample_rate=int(pipe.vocoder.config.output_sampling_rate),
        )

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
        schedule |= {
            "audio_guidance_scale": 1.0,
            "stg_scale": 0.0,
            "audio_stg_scale": 0.0,
            "modality_scale": 1.0,
            "audio_modality_scale": 1.0,
        }
        if self.steps == len(DISTILLED_SIGMA_VALUES):
            schedule["sigmas"] = list(DISTILLED_SIGMA_VALUES)
        return schedule

    def pipeline_class_for(self, class_name: str) -> type | None:
        import diffusers

        # Any LTX-2 folder loads as the text-to-video pipeline; the others share its parts.
        return diffusers.LTX2Pipeline


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
