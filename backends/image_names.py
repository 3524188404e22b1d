"""The image backends' names, light to import: `director check` reads them to
check `keyframes: NAME` without importing Pillow or any backend
(tests/test_imports.py)."""

from __future__ import annotations

GENERATE = "generate"  # `keyframes: generate`: the built-in maker
BUILT_IN = "animatic"  # what `generate` makes keyframes with
KNOWN: dict[str, str] = {  # name → "module:class"
    "animatic": "backends.image:AnimaticImages",
    "flux2": "backends.image_diffusers:Flux2Images",
    "flux2-klein": "backends.image_diffusers:Flux2KleinImages",
    "qwen-image-edit-plus": "backends.image_diffusers:QwenImageEditPlusImages",
    "flux-kontext": "backends.image_diffusers:FluxKontextImages",
}
ADDED: set[str] = set()  # names a test or a plug-in added (backends.image.MAKERS)


def names() -> list[str]:
    """Every image backend's name, without importing any."""
    return sorted({*KNOWN, *ADDED})


def maker_name(choice: str) -> str:
    """The image backend a `keyframes:` value names: `generate` is the built-in one."""
    return BUILT_IN if choice == GENERATE else choice
