"""The collector's cycle-collection policy (`common.runtime`): no
collection scans more than a bounded number of objects, and freezing the
survivors never keeps garbage, because the collector's work makes no
reference cycles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'proto'}"}


def _run(*argv: str) -> str:
    """Python in a process of its own: the policy changes the interpreter's
    collector for good."""
    out = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env=ENV, timeout=240, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_the_collectors_work_makes_no_garbage_cycles(tmp_path: Path) -> None:
    """Survivors are frozen after every full collection, and a reload's
    objects without a scan: a garbage cycle among frozen objects would never
    be freed. Ingest, ticks with alerts firing and resolving, dispatch,
    saves, `/metrics` renders and two reloads leave nothing for the cycle
    collector (the workload itself finds 120 objects when each batch makes
    one self-referencing list)."""
    report = json.loads(_run("-m", "tests.collector.gc_workload", str(tmp_path)).splitlines()[-1])
    alerts = report["alerts"]
    assert alerts["CheckDown:firing"] == alerts["CheckDown:resolved"] == 1  # the work happened
    assert alerts["ErrorRatioHigh:firing"] >= 1
    assert report["renders"] > 1000
    assert (report["found"], report["types"]) == (0, [])


_BUILD = """
import gc
from common.runtime import build_to_last
collections = []
gc.callbacks.append(lambda phase, info: collections.append(info["generation"]))
gc.collect()
before = gc.get_freeze_count()
built = build_to_last(lambda: [{"check": str(i), "facts": [i]} for i in range(100_000)])
print(collections == [2, 2], gc.isenabled(), gc.get_freeze_count() - before >= 200_000,
      len(gc.get_objects(0)) + len(gc.get_objects(1)) + len(gc.get_objects(2)) < 1_000)
"""


def test_a_reload_build_is_frozen_without_a_collection() -> None:
    """A reload builds ~20 objects per check; `build_to_last` builds them
    with collection paused and freezes them, so no pass ever scans them
    (the two collections seen are `gc.collect()`'s start and stop)."""
    assert _run("-c", _BUILD).split() == ["True", "True", "True", "True"]


_GROWING = """
import asyncio, gc, sys
from common.runtime import OLD_MOST, collect_young, freeze_survivors, settle_heap

class Series:
    __slots__ = ("name", "facts")
    def __init__(self, n):
        self.name, self.facts = str(n), [n]

async def main(paced):
    settle_heap()
    freeze_survivors()
    task = asyncio.create_task(collect_young(0.005)) if paced else None
    series, most = [], 0
    for n in range(400_000):  # a flood of new series: everything survives
        series.append(Series(n))
        if n % 2_000 == 0:
            await asyncio.sleep(0.006)
            most = max(most, len(gc.get_objects(2)))
    print(OLD_MOST, most)

asyncio.run(main(sys.argv[1] == "paced"))
"""


def test_paced_full_collections_keep_the_unfrozen_old_generation_bounded() -> None:
    """Unpaced, CPython lets the old generation grow to a quarter of what
    the last full collection kept before scanning it all (after a flood of
    new series, 1.4 million objects, a 1.7 s pause); paced, it is scanned
    and frozen whenever it passes `OLD_MOST`."""

    def most(mode: str) -> tuple[int, int]:
        limit, seen = _run("-c", _GROWING, mode).split()
        return int(limit), int(seen)

    limit, paced = most("paced")
    _, unpaced = most("unpaced")
    assert paced <= limit + 10_000 and 2 * limit < unpaced


def test_a_results_phase_timings_add_no_object_for_the_cycle_collector() -> None:
    """Every series keeps its last result, and in a flood each one outlives
    the young passes: its phase timings are packed in untracked bytes, so
    only the result and its mapping reach the old generation, and they read
    as the mapping they were built from."""
    import gc  # noqa: PLC0415

    from collector.model import PHASES, PhaseTimes  # noqa: PLC0415

    reached = {"resolve": 0.001, "connect": 0.002, "tls": 0.0}  # a zero is reached, not missing
    phases = PhaseTimes(reached)
    assert dict(phases) == reached and list(phases) == list(PHASES[:3]) and len(phases) == 3
    assert phases["tls"] == 0.0 and "processing" not in phases and phases.get("nope") is None
    assert not gc.is_tracked(phases._seconds)  # the test reaches in: the point is what it holds
    assert len(PhaseTimes({})) == 0 and dict(PhaseTimes({})) == {}
