"""The collector's pause around the front end's stages (director/gcpause.py)."""

from __future__ import annotations

import gc
import weakref

from director.gcpause import paused_gc


class _Held:
    """An object that can be in a reference cycle and be watched by a weak reference."""

    def __init__(self) -> None:
        self.other: object = None


def _young_ids() -> set[int]:
    return {id(o) for generation in (0, 1) for o in gc.get_objects(generation)}


def test_what_a_paused_stage_builds_goes_straight_to_the_oldest_generation():
    gc.collect()
    with paused_gc():
        built = [[index] for index in range(2000)]
    assert gc.isenabled()
    young = _young_ids()
    assert not any(id(item) in young for item in built)
    assert all(gc.is_tracked(item) for item in built)  # full collections still see them


def test_a_cycle_left_by_a_paused_stage_is_still_collected():
    with paused_gc():
        first, second = _Held(), _Held()
        first.other, second.other = second, first
    watched = weakref.ref(first)
    del first, second
    gc.collect()
    assert watched() is None


def test_a_nested_pause_leaves_the_collector_to_the_outer_one():
    with paused_gc():
        with paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_objects_the_process_froze_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with paused_gc():
            [[index] for index in range(100)]
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
