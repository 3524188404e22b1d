"""`preview`: the animatic backend, the built-in default.  No GPU, no weights.

The drawing lives in `backends.animatic`; this class is its capability table
and its entry point.
"""

from .animatic import Animatic
from .base import Backend, Capabilities, Estimate, GeneratedShot, ShotRequest


class PreviewBackend(Backend):
    name = "preview"
    description = "animatic from reference images and camera moves; runs anywhere"
    # 2: real animatic frames (layers, camera moves, burn-in); 3: it says where it drew
    # each character (placements), so a take made before that is made again with them.
    version = "3"
    capabilities = Capabilities(
        size_multiple=2,  # H.264 4:2:0 needs even sides
        conditioning=frozenset(
            {"text", "first_frame", "last_frame", "reference_images", "reference_video"}
        ),
        # Frames stream one at a time, so memory grows with the frame, not the shot.
        estimate=Estimate(
            device="cpu",
            bytes_per_pixel=150.0,
            seconds_per_step_megapixel_frame=0.025,
            source="measured by bench/budget.py: a dolly over a plate and a character, "
            "drawn and encoded (the animatic's dearest case), in CPU seconds",
        ),
    )
    prompt_template = "preview.j2"
    auto_rank = 0
    shows_dialogue = True  # subtitles
    draws_framing = True  # angle: and lens: change the layout (backends/animatic.py)
    black_is_failure = False  # a black plate with nothing on it draws black, as asked

    def __init__(self, burn_in: bool = True, subtitles: bool = True):
        self.burn_in = burn_in  # shot id and timecode on every frame
        self.subtitles = subtitles  # dialogue, when the request carries it

    def generate(self, request: ShotRequest) -> GeneratedShot:
        """The shot as an animatic: frames drawn lazily, one at a time; no sound; and
        where each character's reference picture is drawn (for consistency scoring)."""
        if request.frames <= 0:
            return GeneratedShot(frames=())
        animatic = Animatic(request, burn_in=self.burn_in, subtitles=self.subtitles)
        return GeneratedShot(frames=animatic.frames(), placements=animatic.placements)
