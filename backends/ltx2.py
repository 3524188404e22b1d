"""`ltx2`: Lightricks LTX-2 through diffusers, joint audio and video.

The capability table follows the model's rules: frame counts of the form
8k+1, sides divisible by 32, 24 or 25 fps (48/50 for the high-rate variants),
and picture and sound generated together.  Generation arrives with the
diffusers backend; until then `backend: ltx2` plans but does not run.
"""

from .base import Backend, Capabilities


class LTX2Backend(Backend):
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
        window_overlap=24,
        conditioning=frozenset({"text", "first_frame", "last_frame"}),
        joint_audio=True,
        audio_sample_rate=24000,
    )
    prompt_template = "ltx2.j2"
    auto_rank = 20

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return "the LTX-2 runtime is not built yet (plans only)"
