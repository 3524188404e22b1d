"""`preview`: the animatic backend, the built-in default.  No GPU, no weights."""

from .base import Backend, Capabilities


class PreviewBackend(Backend):
    name = "preview"
    description = "animatic from reference images and camera moves; runs anywhere"
    capabilities = Capabilities(
        size_multiple=2,  # H.264 4:2:0 needs even sides
        conditioning=frozenset(
            {"text", "first_frame", "last_frame", "reference_images", "reference_video"}
        ),
    )
    prompt_template = "preview.j2"
    auto_rank = 0
