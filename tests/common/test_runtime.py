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


_REPLACING = """
import asyncio, gc, sys
from common.runtime import collect_young, settle_heap

class Result:
    __slots__ = ("n", "facts")
    def __init__(self, n):
        self.n, self.facts = n, [n]

async def main(paced):
    last = [Result(i) for i in range(50_000)]  # each series' last result
    settle_heap()
    task = asyncio.create_task(collect_young(0.01)) if paced else None
    for n in range(300_000):  # steady state: each new result replaces an old one
        last[n % 50_000] = Result(n)
        if n % 5_000 == 0:
            await asyncio.sleep(0.011)
    print(len(gc.get_objects(0)) + len(gc.get_objects(1)))

asyncio.run(main(sys.argv[1] == "paced"))
"""


def test_paced_young_collections_keep_the_young_generation_small_when_results_replace_results() -> (
    None
):
    """CPython counts allocations minus deallocations, so a steady state
    that replaces old objects never starts a young collection, and the one
    that finally runs scans everything allocated since: `collect_young`
    collects on a clock instead."""

    def young(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", _REPLACING, mode], capture_output=True, text=True, check=True
        )
        return int(out.stdout)

    assert young("paced") < 20_000 < 90_000 < young("unpaced")  # ~10,000 vs ~100,000


def test_the_collector_collects_its_middle_generation_every_second_young_collection() -> None:
    """In an ingest flood young collections run several times a second; with
    CPython's middle threshold of 10 the middle generation gathered ~200,000
    objects between two of its collections."""
    code = (
        "import gc; from common.runtime import COLLECTOR_MIDDLE, settle_heap; "
        "old = gc.get_threshold()[2]; settle_heap(middle=COLLECTOR_MIDDLE); "
        "print(gc.get_threshold() == (20_000, 2, old))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"]


def test_favour_the_loop_shortens_how_long_a_worker_thread_keeps_the_gil() -> None:
    """The collector's loop waits at most this long for the GIL after each
    system call while a worker thread builds (docs/performance.md has the
    /healthz figures it moved)."""
    code = (
        "import sys; from common.runtime import SWITCH_INTERVAL, favour_the_loop; "
        "before = sys.getswitchinterval(); favour_the_loop(); "
        "print(before, sys.getswitchinterval() == SWITCH_INTERVAL < before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0.005", "True"]
