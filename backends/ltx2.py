"""`ltx2`: Lightricks LTX-2 through diffusers, picture and sound made together.

The capability table follows the model's rules: frame counts of the form
8k+1, sides divisible by 32, 24 or 25 fps (48/50 for the high-rate variants),
and picture and sound generated together.  One model folder serves three
diffusers pipelines over the same components: `LTX2Pipeline` (text to audio
and video), `LTX2ImageToVideoPipeline` (from a first frame) and
`LTX2ConditionPipeline` (a last frame, with or without a first).  The sound
comes back at the vocoder's rate and becomes the shot's sound in the mix.

A folder whose name says "distilled" gets the distilled schedule by default:
8 steps on the distilled sigmas, no guidance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .base import Capabilities, ShotRequest
from .diffusers_base import DiffusersBackend, Rendered

DISTILLED_STEPS = 8


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
    plan_settings = (*DiffusersBackend.plan_settings, "distilled")

    def __init__(self, *, distilled: bool = False, **settings):
        super().__init__(**settings)
        self.distilled = distilled  # the distilled sigmas and no guidance of any kind

    @classmethod
    def plan_options(cls, folder: Path | None, settings: dict) -> dict:
        distilled = bool(settings.get("distilled", folder is not None and _looks_distilled(folder)))
        if distilled:
            settings = {"steps": DISTILLED_STEPS, "guidance": 1.0, **settings}
        return {**super().plan_options(folder, settings), "distilled": distilled}

    @classmethod
    def model_kind(cls, folder: Path) -> str:
        return "LTX-2 distilled" if _looks_distilled(folder) else "LTX-2"

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
        embeds, mask, negative_embeds, negative_mask = pipe.encode_prompt(
            prompt, negative, do_classifier_free_guidance=True, device=pipe._execution_device
        )
        return {
            "prompt_embeds": embeds,
            "prompt_attention_mask": mask,
            "negative_prompt_embeds": negative_embeds,
            "negative_prompt_attention_mask": negative_mask,
        }

    def _schedule(self) -> dict:
        if not self.distilled:
            return {}
        from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

        # No guidance beyond `guidance` (1.0 by default for a distilled model).
        schedule = {
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


def _looks_distilled(folder: Path) -> bool:
    return "distilled" in folder.name.lower()
