"""Backends by name.  Built-ins are listed here; third parties add theirs through
the `shot_director.backends` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from .base import Backend
from .hosted import BACKENDS as HOSTED
from .ltx2 import LTX2Backend
from .preview import PreviewBackend
from .tinyfm.backend import TinyFMBackend
from .wan import WanBackend

AUTO = "auto"
_BUILT_IN: tuple[type[Backend], ...] = (
    PreviewBackend, LTX2Backend, WanBackend, TinyFMBackend, *HOSTED,
)  # fmt: skip


@cache
def backends() -> dict[str, type[Backend]]:
    found = {backend.name: backend for backend in _BUILT_IN}
    for point in entry_points(group="shot_director.backends"):
        if point.name not in found:
            found[point.name] = point.load()
    return found


def names() -> list[str]:
    return sorted(backends())


def get(name: str) -> type[Backend]:
    """The backend called `name`; `auto` is the best one that can run here."""
    if name == AUTO:
        return best_available()
    return backends()[name]


def best_available() -> type[Backend]:
    ready = [b for b in backends().values() if b.unavailable_reason() is None]
    return max(ready, key=lambda b: (b.auto_rank, b.name))
