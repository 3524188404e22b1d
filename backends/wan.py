"""`wan`: Wan 2.x through diffusers, video only.

Frame counts of the form 4k+1, sides divisible by 16, 16 fps, 81 frames a
window; VACE adds reference images.  The sound comes from the script's cues.
"""

from .base import Backend, Capabilities


class WanBackend(Backend):
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
        window_overlap=16,
        conditioning=frozenset({"text", "first_frame", "last_frame", "reference_images"}),
    )
    prompt_template = "wan.j2"
    auto_rank = 10

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return "the Wan runtime is not built yet (plans only)"
