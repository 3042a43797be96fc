"""Process start-up helpers."""

from __future__ import annotations

import subprocess
import sys

from common.runtime import GC_YOUNG_THRESHOLD


def test_settle_heap_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    code = (
        "import gc; from common.runtime import settle_heap; "
        "before = gc.get_threshold(); settle_heap(); "
        "print(gc.get_freeze_count() > 1000, gc.get_threshold()[0], "
        "gc.get_threshold()[1:] == before[1:])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", str(GC_YOUNG_THRESHOLD), "True"]
