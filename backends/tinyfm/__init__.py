"""tinyfm: a small dual-branch flow-matching model that makes picture and sound
together on any CPU, trained on procedural clips (`data.py`) and shipped with
the package (`weights/tinyfm.safetensors`).  See docs/tinyfm.md.

Importing the package is cheap: torch is imported only when `load_model`,
`generate` or the model itself is first used.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS = Path(__file__).parent / "weights" / "tinyfm.safetensors"
_LAZY = {"load_model": "pipeline", "generate": "pipeline", "TinyFM": "model"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
