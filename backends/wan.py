"""`wan`: Wan 2.x through diffusers, video only.

Frame counts of the form 4k+1, sides divisible by 16, 16 fps, 81 frames a
window.  The sound comes from the script's cues and a scratch dialogue track.

What a Wan model can be conditioned on depends on which one the folder holds
(its `model_index.json` names the pipeline):

| folder | pipeline | takes |
| --- | --- | --- |
| text to video (e.g. Wan2.1-T2V-1.3B) | `WanPipeline` | the prompt |
| image to video (Wan2.1-I2V-14B, FLF2V) | `WanImageToVideoPipeline` | a first frame, a last |
| VACE (e.g. Wan2.1-VACE-1.3B) | `WanVACEPipeline` | first and last frames, reference images |

The capability table lists what the backend takes with the right model; with
the folder known, `director plan`/`compile` warn (W109) at each shot that
gives more than that folder's model takes, and those inputs are left out.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from director.media import kind_of

from .base import Capabilities, Conditioning, ShotRequest
from .conditioning import reference
from .diffusers_base import DiffusersBackend, ModelError, Rendered, model_index

KINDS: dict[str, tuple[str, frozenset[Conditioning]]] = {
    "WanPipeline": ("Wan text to video", frozenset({"text"})),
    "WanImageToVideoPipeline": (
        "Wan image to video",
        frozenset({"text", "first_frame", "last_frame"}),
    ),
    "WanVACEPipeline": (
        "Wan VACE",
        frozenset({"text", "first_frame", "last_frame", "reference_images"}),
    ),
}
GREY = (128, 128, 128)  # VACE's "nothing known here" for frames to generate


class WanBackend(DiffusersBackend):
    name = "wan"
    description = "Wan 2.x (diffusers): text/image to video, VACE references, no audio"
    capabilities = Capabilities(
        frame_rates=(16.0,),
        size_multiple=16,
        max_side=1920,
        frame_multiple=4,
        frame_offset=1,
        max_frames=81,
        can_extend=True,
        memory_levels=4,  # see DiffusersBackend.memory_settings
        window_overlap=16,
        conditioning=frozenset({"text", "first_frame", "last_frame", "reference_images"}),
    )
    prompt_template = "wan.j2"
    auto_rank = 10
    default_steps = 30
    default_guidance = 5.0

    @classmethod
    def conditioning_for(cls, folder: Path) -> frozenset[Conditioning]:
        return KINDS[_class_name(folder)][1]

    @classmethod
    def model_kind(cls, folder: Path) -> str:
        return KINDS[_class_name(folder)][0]

    def render(
        self, request: ShotRequest, first: Image.Image | None, last: Image.Image | None
    ) -> Rendered:
        import diffusers

        class_name = _class_name(self.folder)
        takes = KINDS[class_name][1]
        # What the model does not take was warned about at plan time (W109) and is left out.
        first = first if "first_frame" in takes else None
        last = last if "last_frame" in takes else None
        pipe = self.pipeline(getattr(diffusers, class_name))
        arguments = self.common_arguments(pipe, request)
        if class_name == "WanImageToVideoPipeline":
            if first is None:
                raise ModelError(
                    f"the wan model in {self.folder} makes video from a first frame, and shot "
                    f"{request.shot_id} has none: give it `keyframe first:` or make it "
                    "`continuous`, or use a Wan text-to-video or VACE model folder"
                )
            output = pipe(image=first, last_image=last, **arguments)
        elif class_name == "WanVACEPipeline":
            output = pipe(**arguments, **self._vace_inputs(request, first, last))
        else:
            output = pipe(**arguments)
        return Rendered(frames=output.frames[0])

    def _vace_inputs(
        self, request: ShotRequest, first: Image.Image | None, last: Image.Image | None
    ) -> dict:
        """VACE's inputs: a control video with the known frames in place and grey
        elsewhere, a mask that is black where a frame is kept, and the references."""
        size = (request.width, request.height)
        inputs: dict = {}
        if first is not None or last is not None:
            video = [Image.new("RGB", size, GREY) for _ in range(request.frames)]
            mask = [Image.new("L", size, 255) for _ in range(request.frames)]
            for index, frame in ((0, first), (request.frames - 1, last)):
                if frame is not None:
                    video[index], mask[index] = frame, Image.new("L", size, 0)
            inputs |= {"video": video, "mask": mask}
        references = _references(request)
        if references:
            inputs["reference_images"] = [
                reference(path, request.width, request.height) for path in references
            ]
        return inputs

    def encode_prompt(self, pipe, prompt: str, negative: str) -> dict:
        embeds, negative_embeds = pipe.encode_prompt(
            prompt,
            negative,
            do_classifier_free_guidance=True,
            max_sequence_length=512,  # the pipelines' own call default
            device=pipe._execution_device,
        )
        return {"prompt_embeds": embeds, "negative_prompt_embeds": negative_embeds}

    def pipeline_class_for(self, class_name: str) -> type | None:
        return super().pipeline_class_for(_class_name(self.folder))


def _references(request: ShotRequest) -> list[Path]:
    """The shot's reference images, each once: characters, location plate, the shot's own."""
    paths = [p for c in request.characters for p in c.refs]
    paths += [request.plate] if request.plate is not None else []
    paths += list(request.reference_images)
    return list(dict.fromkeys(p for p in paths if kind_of(str(p)) == "image"))


def _class_name(folder: Path) -> str:
    class_name = model_index(folder).get("_class_name", "")
    if class_name not in KINDS:
        raise ModelError(
            f"{folder} holds a {class_name or 'unnamed'} model; the wan backend loads "
            f"{', '.join(KINDS)} folders"
        )
    return class_name
