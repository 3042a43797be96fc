"""The one window engine: the p95 rule, spans, late results, expiry and
what a restart restores."""

from __future__ import annotations

import json
import math
import random

import pytest

from collector.stats.window import MAX_SAMPLES, Figures, Window, figures, p95


@pytest.mark.parametrize(
    ("values", "want"),
    [
        ([0.3], 0.3),
        ([0.1, 0.2], 0.2),
        ([0.1] * 9 + [0.9], 0.9),  # 10 values: the largest
        ([float(i) for i in range(1, 21)], 19.0),  # 20 values: the 19th
        ([float(i) for i in range(1, 101)], 95.0),
        ([float(i) for i in range(1, 102)], 96.0),
    ],
    ids=["one", "two", "ten", "twenty", "hundred", "hundred-and-one"],
)
def test_p95_is_the_nearest_rank(values: list[float], want: float) -> None:
    assert p95(random.Random(1).sample(values, len(values))) == want


@pytest.mark.parametrize("n", range(1, 400))
def test_p95_rank_is_ceil_of_95_percent(n: int) -> None:
    values = [float(i) for i in range(1, n + 1)]
    assert p95(values) == float(math.ceil(n * 95 / 100))


def test_spans_read_from_one_window() -> None:
    window = Window(3600)
    for minute in range(60):
        window.add(1000.0 + 60 * minute, 0.01 * (minute + 1), minute % 10 != 9)
    now = 1000.0 + 60 * 59
    five = window.figures(now, 300)  # ended after now - 300: the last 5
    assert (five.successes, five.failures) == (4, 1)
    assert five.p95 == pytest.approx(0.59)
    hour = window.figures(now, 3600)
    assert (hour.successes, hour.failures, hour.error_ratio) == (54, 6, 0.1)


def test_late_results_are_kept_in_order() -> None:
    window = Window(300)
    for at in (100.0, 130.0, 110.0, 120.0):
        window.add(at, at / 1000, True)
    assert list(window.durations(now=130.0, span=25.0)) == [0.11, 0.12, 0.13]


def test_old_results_are_forgotten_as_new_ones_arrive() -> None:
    window = Window(300)
    window.add(100.0, 0.1, True)
    window.add(101.0, 0.1, False)
    window.add(401.0, 0.2, True)  # pushes out both: they are 300 s older
    assert len(window) == 1
    assert window.figures(401.0, 300) == Figures(0.2, 1, 0)
    assert window.figures(800.0, 300) == Figures(None, 0, 0)


def test_a_flood_keeps_the_newest() -> None:
    window = Window(1e9)
    for i in range(MAX_SAMPLES + 50):
        window.add(float(i), float(i), True)
    assert len(window) == MAX_SAMPLES
    assert list(window.durations(1e6, 1e9))[:1] == [50.0]


@pytest.mark.parametrize(
    ("now", "want"),
    [(150.0, 400.0), (401.0, 410.0), (411.0, math.inf)],
    ids=["first-leaves", "failure-leaves", "empty"],
)
def test_expires_when_the_oldest_result_leaves(now: float, want: float) -> None:
    window = Window(300)
    window.add(100.0, 0.1, True)
    window.add(110.0, 0.1, False)
    assert window.expires(now, 300) == want


def test_regions_taken_together_follow_the_same_rule() -> None:
    eu, us = Window(300), Window(300)
    for i in range(5):
        eu.add(100.0 + i, 0.1, True)
        us.add(100.0 + i, 0.5 if i == 0 else 0.2, True)
    us.add(106.0, 1.0, False)
    both = figures([eu, us], 110.0, 300)
    assert both == Figures(p95([0.1] * 5 + [0.5] + [0.2] * 4), 10, 1)
    assert both.p95 == 0.5


def test_state_round_trips_through_json() -> None:
    window = Window(300)
    for i in range(10):
        window.add(100.0 + i, 0.05 * i, i != 3)
    restored = Window.from_state(300, json.loads(json.dumps(window.to_state())))
    assert restored.figures(120.0, 300) == window.figures(120.0, 300)
    assert len(restored) == len(window) == 10


@pytest.mark.parametrize(
    ("durations", "limit", "expected"),
    [
        ([0.1, 0.9, 0.1], 0.5, 2.0),
        ([0.9, 0.1, 0.1, 0.1, 0.1, 0.1], 0.5, -math.inf),  # the slow one was pruned
        ([0.1] * 6, 0.5, -math.inf),
    ],
    ids=["newest-slow", "slow-one-pruned", "none-slow"],
)
def test_slower_than_reads_only_the_live_successes(
    durations: list[float], limit: float, expected: float
) -> None:
    window = Window(span=3.5)
    for at, duration in enumerate(durations, start=1):
        window.add(float(at), duration, True)
    window.prune(float(len(durations)))
    assert window.slower_than(limit) == expected
