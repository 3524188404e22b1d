"""`wan`: Wan 2.x through diffusers, video only.

Frame counts of the form 4k+1, sides divisible by 16, 16 fps and 81 frames a
window for most Wan models; the sound comes from the script's cues and a
scratch dialogue track.

Which Wan model a folder holds is recognised from its configs (see
`backends.profiles`), and with it the authors' recipe and what the model can
be conditioned on:

| model | takes | steps, guidance, flow shift |
| --- | --- | --- |
| Wan2.1 T2V 1.3B / 14B | the prompt | 50, 6 / 5, 8 / 5 |
| Wan2.1 I2V 14B 480P, 720P | a first frame (needed) | 40, 5, 3 at 480p else 5 |
| Wan2.1 FLF2V 14B | first (needed) and last frames | 50, 5, 16 |
| Wan2.1 VACE 1.3B / 14B | first, last frames, reference images | 50, 5, 16 |
| Wan2.2 T2V A14B (two experts) | the prompt | 40, 4 and 3, 12 |
| Wan2.2 I2V A14B (two experts) | a first frame (needed) | 40, 3.5 and 3.5, 5 |
| Wan2.2 TI2V 5B | a first frame | 50, 5, 5 |

TI2V 5B makes 24 fps, 121 frames a window, sides divisible by 32; with a
first frame it runs as `WanImageToVideoPipeline` over the same components.

The capability table lists what the backend takes with the right model; with
the folder known, `director plan`/`compile` warn (W109) at each shot that
gives more than that folder's model takes, and those inputs are left out, and
refuse (E039) a shot without the first frame an image-to-video model needs.
Each profile also lists the sizes its authors trained it at (their
SUPPORTED_SIZES): a film made at another size is a warning at its first shot
(W121), as is a size the model's side rule rounds (W122, TI2V's 32).
A folder that matches no published model runs with its pipeline's defaults.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from director.media import kind_of

from .base import Capabilities, ShotRequest
from .conditioning import reference
from .diffusers_base import DiffusersBackend, ModelError, Rendered, model_index
from .profiles import PRESENT, Profile

GREY = (128, 128, 128)  # VACE's "nothing known here" for frames to generate
# The authors' negative prompt (Wan2.1 and Wan2.2, wan/configs/shared_config.py).
NEGATIVE = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，"
    "低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，"
    "毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)
P480, P720 = 832 * 480, 1280 * 720
WIDE = ((1280, 720), (720, 1280), (832, 480), (480, 832))
TEXT = frozenset({"text"})
FIRST = frozenset({"text", "first_frame"})
FIRST_LAST = frozenset({"text", "first_frame", "last_frame"})
VACE = frozenset({"text", "first_frame", "last_frame", "reference_images"})
T2V, I2V, VACE_PIPE = "WanPipeline", "WanImageToVideoPipeline", "WanVACEPipeline"


_SHORT = {  # the signature keys _wan21 takes by a short name
    "in_channels": "transformer.in_channels",
    "pos_embed": "transformer.pos_embed_seq_len",
    "image_encoder": "image_encoder",
}


def _wan21(pipeline: str, heads: int, **more) -> dict:
    """The signature of a single-expert Wan 2.1 folder: its pipeline, its
    transformer's heads (12 for 1.3B, 40 for 14B), no second expert, and `more`."""
    signature = {
        "model_index._class_name": pipeline,
        "transformer.num_attention_heads": heads,
        "transformer_2": None,
    }
    return signature | {_SHORT[key]: value for key, value in more.items()}


# The published folders, the most specific signature first; recipes from the
# authors' wan/configs and generate.py (Wan2.1, Wan2.2) and model cards.
PROFILES = (
    Profile(
        name="Wan2.1 T2V 1.3B",
        signature=_wan21(T2V, 12, in_channels=16),
        steps=50, guidance=6.0, shifts=((P720, 8.0),), negative=NEGATIVE, takes=TEXT,
        sizes=((832, 480), (480, 832)), folders=("Wan2.1-T2V-1.3B-Diffusers",),
        notes="shift 8 to 12 recommended; trained at 480p",
    ),
    Profile(
        name="Wan2.1 T2V 14B",
        signature=_wan21(T2V, 40, in_channels=16),
        steps=50, guidance=5.0, shifts=((P720, 5.0),), negative=NEGATIVE, takes=TEXT,
        sizes=WIDE, folders=("Wan2.1-T2V-14B-Diffusers",),
    ),
    Profile(
        name="Wan2.1 FLF2V 14B 720P",
        signature=_wan21(I2V, 40, image_encoder=PRESENT, pos_embed=PRESENT),  # 2 x 257
        steps=50, guidance=5.0, shifts=((P720, 16.0),), negative=NEGATIVE, takes=FIRST_LAST,
        needs=frozenset({"first_frame"}), sizes=WIDE[:2],
        folders=("Wan2.1-FLF2V-14B-720P-diffusers",),
    ),
    Profile(
        name="Wan2.1 I2V 14B (480P or 720P)",
        signature=_wan21(I2V, 40, image_encoder=PRESENT, pos_embed=None),
        steps=40, guidance=5.0, shifts=((P480, 3.0), (P720, 5.0)), negative=NEGATIVE,
        takes=FIRST, needs=frozenset({"first_frame"}), sizes=WIDE,
        folders=("Wan2.1-I2V-14B-480P-Diffusers", "Wan2.1-I2V-14B-720P-Diffusers"),
        notes="the 480P and 720P folders have the same configs; the shift follows the frame size",
    ),
    Profile(
        name="Wan2.1 VACE 1.3B",
        signature=_wan21(VACE_PIPE, 12),
        steps=50, guidance=5.0, shifts=((P720, 16.0),), negative=NEGATIVE, takes=VACE,
        sizes=((832, 480), (480, 832)), folders=("Wan2.1-VACE-1.3B-diffusers",),
    ),
    Profile(
        name="Wan2.1 VACE 14B",
        signature=_wan21(VACE_PIPE, 40),
        steps=50, guidance=5.0, shifts=((P720, 16.0),), negative=NEGATIVE, takes=VACE,
        sizes=WIDE, folders=("Wan2.1-VACE-14B-diffusers",),
    ),
    Profile(
        name="Wan2.2 T2V A14B",
        signature={
            "model_index._class_name": T2V, "model_index.boundary_ratio": 0.875,
            "transformer_2": PRESENT, "transformer.in_channels": 16,
        },
        steps=40, guidance=4.0, guidance_2=3.0, shifts=((P720, 12.0),), negative=NEGATIVE,
        takes=TEXT, sizes=WIDE, folders=("Wan2.2-T2V-A14B-Diffusers",),
        notes="guidance 4 for the high-noise expert, 3 for the low-noise one",
    ),
    Profile(
        name="Wan2.2 I2V A14B",
        signature={
            "model_index._class_name": I2V, "model_index.boundary_ratio": 0.9,
            "transformer_2": PRESENT, "transformer.in_channels": 36,
        },
        steps=40, guidance=3.5, guidance_2=3.5, shifts=((P720, 5.0),), negative=NEGATIVE,
        takes=FIRST, needs=frozenset({"first_frame"}), sizes=WIDE,
        folders=("Wan2.2-I2V-A14B-Diffusers",),
    ),
    Profile(
        name="Wan2.2 TI2V 5B",
        signature={
            "model_index._class_name": T2V, "model_index.expand_timesteps": True,
            "transformer.in_channels": 48,
        },
        steps=50, guidance=5.0, shifts=((P720, 5.0),), negative=NEGATIVE, takes=FIRST,
        capabilities={"frame_rates": (24.0,), "size_multiple": 32, "max_frames": 121},
        sizes=((1280, 704), (704, 1280)), folders=("Wan2.2-TI2V-5B-Diffusers",),
        notes="text or first frame to video; 24 fps, 121 frames, sides divisible by 32",
    ),
    # Any other folder of a Wan pipeline: the pipeline's own defaults.
    Profile(
        name="Wan text to video", signature={"model_index._class_name": T2V},
        steps=30, guidance=5.0, takes=TEXT, published=False,
    ),
    Profile(
        name="Wan image to video", signature={"model_index._class_name": I2V},
        steps=30, guidance=5.0, takes=FIRST_LAST, needs=frozenset({"first_frame"}),
        published=False,
    ),
    Profile(
        name="Wan VACE", signature={"model_index._class_name": VACE_PIPE},
        steps=30, guidance=5.0, takes=VACE, published=False,
    ),
)  # fmt: skip


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
    profiles = PROFILES
    version = "2"  # the authors' recipes, guidance_2, flow shift by frame size

    def render(
        self, request: ShotRequest, first: Image.Image | None, last: Image.Image | None
    ) -> Rendered:
        import diffusers

        class_name = _class_name(self.folder)
        takes = self.profile.takes
        # What the model does not take was warned about at plan time (W109) and is left out.
        first = first if "first_frame" in takes else None
        last = last if "last_frame" in takes else None
        if class_name == T2V and first is not None:
            class_name = I2V  # TI2V: the same model, given the first frame through its latents
        pipe = self.pipeline(getattr(diffusers, class_name))
        self._use_flow_shift(pipe, request)
        arguments = self.common_arguments(pipe, request)
        if pipe.config.get("boundary_ratio") is not None:
            arguments["guidance_scale_2"] = self.guidance_2  # None: the same as guidance
        if class_name == I2V:
            if first is None:
                raise ModelError(
                    f"the wan model in {self.folder} makes video from a first frame, and shot "
                    f"{request.shot_id} has none: give it `keyframe first:` or make it "
                    "`continuous`, or use a Wan text-to-video or VACE model folder"
                )
            output = pipe(image=first, last_image=last, **arguments)
        elif class_name == VACE_PIPE:
            output = pipe(**arguments, **self._vace_inputs(request, first, last))
        else:
            output = pipe(**arguments)
        return Rendered(frames=output.frames[0])

    def _use_flow_shift(self, pipe, request: ShotRequest) -> None:
        """The scheduler with the flow shift asked for, else the profile's for the
        frame size, else as the folder gives it."""
        shift = self.flow_shift or self.profile.shift_for(request.width, request.height)
        config = pipe.scheduler.config
        key = "flow_shift" if "flow_shift" in config else "shift"
        if shift is not None and config.get(key) != shift:
            pipe.scheduler = type(pipe.scheduler).from_config(config, **{key: shift})

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
    return model_index(folder).get("_class_name", "")
