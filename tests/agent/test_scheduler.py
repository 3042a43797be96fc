"""The scheduler spreads checks over their interval and re-checks failures fast."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import Counter

import pytest

from agent.scheduler import Scheduler, after_result, next_due, phase
from common.config import CheckBase
from common.config.http import HttpCheck


def check(name: str, interval: float = 60, retry_after: float = 10) -> HttpCheck:
    return HttpCheck(
        name=name,
        url="http://127.0.0.1/",
        interval=interval,
        timeout=interval / 2,
        retry_after=retry_after,
    )


def test_thousand_checks_spread_evenly_over_the_interval() -> None:
    offsets = [phase(f"check-{i}", 60.0) for i in range(1000)]
    per_second = Counter(int(o) for o in offsets)
    assert all(0 <= o < 60 for o in offsets)
    assert len(per_second) == 60  # every second of the minute gets some
    assert max(per_second.values()) <= 35  # an even spread is ~17 per second


def test_phase_is_stable_and_depends_on_the_name() -> None:
    assert phase("home", 60) == phase("home", 60)
    assert phase("home", 60) != phase("api", 60)


@pytest.mark.parametrize(
    ("now", "offset", "want"),
    [(100.0, 7.0, 127.0), (127.0, 7.0, 187.0), (126.9, 7.0, 127.0), (0.0, 0.0, 60.0)],
    ids=["mid-interval", "exactly-due-goes-to-next", "just-before", "zero"],
)
def test_next_due(now: float, offset: float, want: float) -> None:
    assert next_due(now, 60.0, offset) == pytest.approx(want)


@pytest.mark.parametrize(
    ("success", "was_retry", "fast"),
    [(False, False, True), (False, True, False), (True, False, False), (True, True, False)],
    ids=["failure-retries-fast", "failed-retry-back-to-schedule", "success", "recovered-on-retry"],
)
def test_after_result(success: bool, was_retry: bool, fast: bool) -> None:
    c = check("home")
    due, retry = after_result(1000.0, c, success, was_retry)
    assert retry is fast
    if fast:
        assert due == 1010.0
    else:
        assert due == next_due(1000.0, 60.0, phase("home", 60.0))


async def test_scheduler_runs_checks_and_applies_changes() -> None:
    runs: list[tuple[str, bool]] = []

    async def run(c: CheckBase, retry: bool) -> bool:
        runs.append((c.name, retry))
        return c.name != "bad"

    scheduler = Scheduler(run, time.time)
    scheduler.apply([check("good", interval=1.0), check("bad", interval=1.0, retry_after=0.2)])
    await asyncio.sleep(2.3)
    scheduler.apply([check("good", interval=1.0)])
    removed_at = len([r for r in runs if r[0] == "bad"])
    await asyncio.sleep(1.2)
    scheduler.stop()
    good = [r for r in runs if r[0] == "good"]
    bad = [r for r in runs if r[0] == "bad"]
    assert 2 <= len(good) <= 4
    assert ("bad", True) in bad  # a failure was re-checked fast
    assert len(bad) == removed_at  # a removed check stops running


async def test_a_finished_run_leaves_no_task_behind() -> None:
    async def run(_c: CheckBase, _retry: bool) -> bool:
        return True

    scheduler = Scheduler(run, time.time)
    scheduler.apply([check("home", interval=0.2)])
    entry = scheduler.entries["home"]
    await asyncio.sleep(0.5)
    # Memory: a check waiting for its next run keeps no finished task.
    assert entry.task is None or not entry.task.done()
    scheduler.stop()


async def test_every_run_starts_from_the_context_the_scheduler_was_made_in() -> None:
    field = contextvars.ContextVar("field", default="unset")
    field.set("bound")  # like structlog's bound agent and region
    seen: list[str] = []

    async def run(_c: CheckBase, _retry: bool) -> bool:
        seen.append(field.get())
        field.set("left by a run")
        return True

    scheduler = Scheduler(run, time.time)
    field.set("set later")
    scheduler.apply([check("home", interval=0.2)])
    await asyncio.sleep(0.7)
    scheduler.stop()
    assert len(seen) >= 2
    assert set(seen) == {"bound"}


async def test_many_checks_each_run_on_their_own_schedule() -> None:
    runs: Counter[str] = Counter()

    async def run(c: CheckBase, _retry: bool) -> bool:
        runs[c.name] += 1
        return True

    scheduler = Scheduler(run, time.time)
    began = time.monotonic()
    scheduler.apply([check(f"c{i}", interval=0.4) for i in range(200)])
    await asyncio.sleep(1.0)
    scheduler.apply([check(f"c{i}", interval=0.4) for i in range(100)])  # drop half
    dropped_at = sum(runs[f"c{i}"] for i in range(100, 200))
    await asyncio.sleep(0.9)
    scheduler.stop()
    # ~1.9 s at 0.4 s, by the time that really passed: a loaded machine
    # wakes the test late, and each check runs once per 0.4 s meanwhile.
    most = int((time.monotonic() - began) / 0.4) + 1
    assert all(3 <= runs[f"c{i}"] <= most for i in range(100)), runs
    assert sum(runs[f"c{i}"] for i in range(100, 200)) == dropped_at


async def test_a_wall_clock_stepped_back_does_not_stall_checks() -> None:
    step = 0.0
    runs: list[float] = []

    async def run(_c: CheckBase, _retry: bool) -> bool:
        runs.append(time.monotonic())
        return True

    scheduler = Scheduler(run, lambda: time.time() + step)
    scheduler.apply([check("home", interval=0.3)])
    step = -3600.0  # NTP steps the clock back an hour
    await asyncio.sleep(1.0)
    scheduler.stop()
    assert len(runs) >= 3


async def test_a_run_that_raises_keeps_its_check_scheduled() -> None:
    runs: list[float] = []

    async def run(_c: CheckBase, _retry: bool) -> bool:
        runs.append(time.monotonic())
        raise OSError("No space left on device")

    scheduler = Scheduler(run, time.time)
    scheduler.apply([check("home", interval=0.2)])
    await asyncio.sleep(0.7)
    scheduler.stop()
    assert len(runs) >= 2
