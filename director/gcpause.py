"""Pausing the cyclic garbage collector around allocation-heavy stages.

Parsing, checking and planning build many small objects and no reference
cycles worth collecting mid-stage; the collections their allocation rate
triggers cost about a third of the front end's time on a feature-length
script (bench/frontend.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _to_oldest_generation()
            gc.enable()


def _to_oldest_generation() -> None:
    """Move every tracked object to the oldest generation without traversing it.

    What a stage leaves is long-lived (a syntax tree, a spec, a plan), and all of it
    is young while the collector is paused: the first young collection after the
    pause would traverse all of it once more, for nothing (a tenth of the plan
    stage on a feature-length script).  Freezing and unfreezing at once moves the
    young generations to the oldest one in constant time; full collections still
    see them.  Skipped where the process holds objects frozen for its own reasons."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
