"""Backends by name, each imported only when it is named.

The built-ins are listed by module path; third parties add theirs through the
`shot_director.backends` entry-point group, read (not loaded) when names are
listed.  So checking a script imports no backend, and planning imports only
the backends the script names: a backend's module may import Pillow, torch
or diffusers at the top.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

from .base import Backend

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

AUTO = "auto"
GROUP = "shot_director.backends"
BUILT_IN: dict[str, str] = {  # name → "module:class"
    "preview": "backends.preview:PreviewBackend",
    "ltx2": "backends.ltx2:LTX2Backend",
    "wan": "backends.wan:WanBackend",
    "tinyfm": "backends.tinyfm.backend:TinyFMBackend",
    # Hosted models (backends/hosted/catalog.py), one class per catalog entry.
    "seedance-2": "backends.hosted:SEEDANCE_2",
    "kling-3": "backends.hosted:KLING_3",
    "veo-3.1": "backends.hosted:VEO_3_1",
    "hailuo-02": "backends.hosted:HAILUO_02",
    "ltx-2-fal": "backends.hosted:LTX_2_FAL",
    "gen-4.5": "backends.hosted:GEN_4_5",
    "ray-2-flash": "backends.hosted:RAY_2_FLASH",
    "pika-2.2": "backends.hosted:PIKA_2_2",
}

_LOADED: dict[str, type[Backend]] = {}  # by name, as each is first asked for


@cache
def _plug_ins() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points  # a few tens of ms: only when names are asked

    points = entry_points(group=GROUP)
    return {point.name: point for point in points if point.name not in BUILT_IN}


def names() -> list[str]:
    """Every backend's name, without importing any."""
    return sorted({*BUILT_IN, *_plug_ins(), *_LOADED})


def get(name: str) -> type[Backend]:
    """The backend called `name`, imported now if it was not yet; KeyError if there is
    none.  `auto` is the best one that can run here, by each backend's own answer
    (the compiler asks with its settings: `director.models.choose`)."""
    if name == AUTO:
        return best_available()
    if name not in _LOADED:
        if name in BUILT_IN:
            module, _, attribute = BUILT_IN[name].partition(":")
            _LOADED[name] = getattr(import_module(module), attribute)
        elif name in _plug_ins():
            _LOADED[name] = _plug_ins()[name].load()
        else:
            raise KeyError(name)
    return _LOADED[name]


def backends() -> dict[str, type[Backend]]:
    """Every backend, each imported: for `auto` and `director doctor`.  The same dict
    each time, so a test may add a backend to it."""
    for name in names():
        get(name)
    return _LOADED


def best_available(
    unavailable: Callable[[type[Backend]], str | None] | None = None,
) -> type[Backend]:
    """The highest-ranked backend that can run here: for which `unavailable` (by
    default the backend's own `unavailable_reason`) gives no reason."""
    reason = unavailable or (lambda backend: backend.unavailable_reason())
    ready = [b for b in backends().values() if reason(b) is None]
    return max(ready, key=lambda b: (b.auto_rank, b.name))
