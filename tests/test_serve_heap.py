"""`legaltv serve` settles its heap once started: what start-up built leaves the collector's
view, so full collections stop walking it on the event loop (the callback steps' p99)."""

from __future__ import annotations

import gc

from tv_server.cli import serve


def test_serving_freezes_what_start_up_built_and_collects_young_objects_less_often():
    before = gc.get_threshold()
    try:
        kept = [object() for _ in range(10)]  # something start-up built
        serve.settle_heap()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == serve.GC_THRESHOLDS
        assert serve.GC_THRESHOLDS[0] > before[0]
        # Garbage made afterwards is still collected.
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
