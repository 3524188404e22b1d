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
            gc.enable()
