"""The window's sized success buffers (`collector.stats.window.Window`) hold
exactly what the plain growing arrays they replaced held: the same results
go into both, and every reading agrees after every result."""

from __future__ import annotations

import bisect
import math
import random
from array import array
from collections.abc import Iterator

import pytest

from collector.stats.window import MAX_SAMPLES, Figures, Window, p95

Event = tuple[float, float, bool]
"""(end time, duration, success)."""


class GrowingWindow:
    """The window as it was before the sized buffers (the reference):
    three arrays grown by appends and trimmed from the front."""

    def __init__(self, span: float) -> None:
        self.span = span
        self.ok_at: array[float] = array("d")
        self.ok: array[float] = array("d")
        self.failed_at: array[float] = array("d")

    def add(self, at: float, duration: float, success: bool) -> None:
        if success:
            index = bisect.bisect_right(self.ok_at, at)
            self.ok_at.insert(index, at)
            self.ok.insert(index, duration)
            if self.ok_at[0] <= at - self.span or len(self.ok_at) > MAX_SAMPLES:
                self.prune(at)
        else:
            self.failed_at.insert(bisect.bisect_right(self.failed_at, at), at)
            if self.failed_at[0] <= at - self.span or len(self.failed_at) > MAX_SAMPLES:
                self.prune(at)

    def prune(self, now: float) -> None:
        oldest = now - self.span
        drop = max(bisect.bisect_right(self.ok_at, oldest), len(self.ok_at) - MAX_SAMPLES)
        if drop > 0:
            del self.ok_at[:drop], self.ok[:drop]
        drop = max(bisect.bisect_right(self.failed_at, oldest), len(self.failed_at) - MAX_SAMPLES)
        if drop > 0:
            del self.failed_at[:drop]

    def durations(self, now: float, span: float) -> list[float]:
        return list(self.ok[bisect.bisect_right(self.ok_at, now - span) :])

    def failures(self, now: float, span: float) -> int:
        return len(self.failed_at) - bisect.bisect_right(self.failed_at, now - span)

    def expires(self, now: float, span: float) -> float:
        cut = now - span
        i, j = bisect.bisect_right(self.ok_at, cut), bisect.bisect_right(self.failed_at, cut)
        first = self.ok_at[i] if i < len(self.ok_at) else math.inf
        return min(first, self.failed_at[j] if j < len(self.failed_at) else math.inf) + span


def _regular(interval: float, count: int, failures: float, seed: int) -> Iterator[Event]:
    rng = random.Random(seed)
    for i in range(count):
        yield 1000.0 + i * interval, rng.lognormvariate(-3, 0.5), rng.random() >= failures


def _jittered_and_late(count: int, seed: int) -> Iterator[Event]:
    rng = random.Random(seed)
    for i in range(count):
        late = rng.random() < 0.2  # another agent's clock, a re-sent batch
        at = 1000.0 + i * 20 - (rng.uniform(0, 90) if late else rng.uniform(0, 2))
        yield at, rng.random(), rng.random() >= 0.1


def _interval_change(seed: int) -> Iterator[Event]:
    # 10 s for an hour, then every 5 minutes: the buffers grow, then shrink.
    yield from _regular(10.0, 360, 0.02, seed)
    for at, duration, ok in _regular(300.0, 30, 0.02, seed + 1):
        yield at + 3600, duration, ok


def _flood(seed: int) -> Iterator[Event]:
    # More successes and failures within the span than MAX_SAMPLES of each.
    rng = random.Random(seed)
    for i in range(int(2.6 * MAX_SAMPLES)):
        yield 1000.0 + i * 0.5, rng.random(), rng.random() >= 0.3


def _same_instant(count: int) -> Iterator[Event]:
    for i in range(count):
        yield 1000.0 + (i // 4) * 60, 0.01 * i, i % 7 != 3


CASES = {
    "60s-interval-2h": (3600.0, list(_regular(60.0, 120, 0.02, 1))),
    "10s-interval-90m": (3600.0, list(_regular(10.0, 540, 0.02, 2))),
    "5m-interval": (3600.0, list(_regular(300.0, 30, 0.1, 3))),
    "5m-span-regions-merged": (300.0, list(_regular(20.0, 100, 0.05, 4))),
    "jittered-and-late": (3600.0, list(_jittered_and_late(400, 5))),
    "interval-change": (3600.0, list(_interval_change(6))),
    "same-instant": (3600.0, list(_same_instant(300))),
    "all-failures": (3600.0, list(_regular(60.0, 100, 1.0, 7))),
    "flood": (3600.0, list(_flood(8))),
    "unbounded-span": (math.inf, list(_regular(30.0, 150, 0.02, 9))),
}


def _agree(window: Window, reference: GrowingWindow, now: float) -> None:
    assert len(window) == len(reference.ok) + len(reference.failed_at)
    assert window.to_state() == {
        "ok_at": list(reference.ok_at),
        "ok": list(reference.ok),
        "failed_at": list(reference.failed_at),
    }
    for span in (60.0, 300.0, 3600.0):
        durations = reference.durations(now, span)
        assert list(window.durations(now, span)) == durations
        assert window.failures(now, span) == reference.failures(now, span)
        assert window.expires(now, span) == reference.expires(now, span)
        figures = window.figures(now, span)
        assert figures.p95 == (p95(durations) if durations else None)
        assert (figures.successes, figures.failures) == (len(durations), window.failures(now, span))


@pytest.mark.parametrize(("span", "events"), CASES.values(), ids=CASES.keys())
def test_every_reading_equals_the_growing_arrays_after_every_result(
    span: float, events: list[Event]
) -> None:
    window, reference = Window(span), GrowingWindow(span)
    check_every = 1 if len(events) < 1000 else 97
    for i, (at, duration, ok) in enumerate(events):
        window.add(at, duration, ok)
        reference.add(at, duration, ok)
        if i % check_every == 0 or i == len(events) - 1:
            _agree(window, reference, at + 1.0)
    restored = Window.from_state(span, window.to_state())
    _agree(restored, reference, events[-1][0] + 1.0)


@pytest.mark.parametrize("span", [300.0, 60.0], ids=["5m", "1m"])
def test_an_unbounded_window_pruned_to_a_span_agrees(span: float) -> None:
    # The SLO window's use: span set before each prune (collector.alerting.slo).
    window, reference = Window(math.inf), GrowingWindow(math.inf)
    for at, duration, ok in _regular(15.0, 200, 0.05, 10):
        window.add(at, duration, ok)
        reference.add(at, duration, ok)
        window.span = reference.span = span
        window.prune(at)
        reference.prune(at)
        _agree(window, reference, at)


@pytest.mark.parametrize(
    ("interval", "most"),
    [(60.0, 70), (10.0, 400), (300.0, 18)],
    ids=["60s", "10s", "5m"],
)
def test_buffers_are_sized_to_what_the_span_holds(interval: float, most: int) -> None:
    window = Window(3600.0)
    for at, duration, _ in _regular(interval, int(2 * 3600 / interval), 0.0, 11):
        window.add(at, duration, True)
    capacity = window._cap  # the allocation, not the live results
    assert int(3600 / interval) <= capacity <= most


def test_a_window_keeps_an_array_of_failures_only_while_it_holds_failures() -> None:
    """Most windows hold no failure: they share one empty array until their
    first, and give theirs up when the last one leaves the span."""
    window, other = Window(300.0), Window(300.0)
    assert window._failed_at is other._failed_at  # shared while empty
    window.add(1000.0, 0.0, False)
    window.add(1001.0, 0.1, True)
    assert window._failed_at is not other._failed_at and not other._failed_at
    window.add(1400.0, 0.1, True)  # both earlier results leave the 5-minute span
    assert window.failures(1400.0, 300.0) == 0
    assert window._failed_at is other._failed_at
    assert len(other) == 0 and len(window) == 1
    assert window.figures(1400.0, 300.0) == Figures(0.1, 1, 0)
