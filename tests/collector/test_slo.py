"""The SLO window: what counts towards the p95 and the error ratio."""

from __future__ import annotations

import json
import math
import random

import pytest

from collector.alerting.slo import SloWindow
from collector.alerting.slochecks import FreshChecks, bucket
from collector.stats.window import MAX_SAMPLES, p95


def test_excluded_and_unsettled_failures_do_not_count() -> None:
    window = SloWindow()
    for i in range(10):
        window.add(100.0 + i, "eu", True, 0.1 * (i + 1))
    window.add(101.0, "eu", False, 5.0)  # settled, counts
    window.add(102.0, "us", False, 5.0)  # excluded below
    window.add(119.0, "eu", False, 5.0)  # younger than `settle`
    window.exclude_since("us", 102.0)
    stats = window.stats(now=120.0, settle=10.0, min_samples=5)
    assert (stats.successes, stats.errors, stats.total) == (10, 1, 11)
    assert stats.p95 == pytest.approx(1.0)
    assert stats.error_ratio == pytest.approx(1 / 11)


def test_window_stays_bounded_after_marking_an_incident() -> None:
    window = SloWindow()
    for i in range(MAX_SAMPLES + 10):
        window.add(float(i), "eu", False, 1.0)
    window.exclude_since("eu", 0.0)
    assert len(window) == MAX_SAMPLES
    assert window.stats(now=1e6, settle=0.0, min_samples=1).errors == 0  # all excluded
    for i in range(MAX_SAMPLES + 10):
        window.add(1e6 + i, "eu", True, float(i))
    window.prune(now=2e6, span=3e6)  # drops by count only
    assert len(window) == 2 * MAX_SAMPLES  # the newest of each kind
    window.add(2e6, "eu", False, 1.0)  # after the incident: counts
    stats = window.stats(now=3e6, settle=0.0, min_samples=1)
    assert (stats.successes, stats.errors) == (MAX_SAMPLES, 1)
    assert stats.p95 == float(10 + math.ceil(0.95 * MAX_SAMPLES) - 1)  # the oldest 10 dropped


def test_prune_drops_old_results_of_both_kinds() -> None:
    window = SloWindow()
    for at in (10.0, 20.0, 30.0):
        window.add(at, "eu", True, at / 100)
        window.add(at + 1, "us", False, 1.0)
    window.prune(now=40.0, span=20.0)  # keeps what ended after t=20
    assert len(window) == 3
    stats = window.stats(now=40.0, settle=0.0, min_samples=1)
    assert (stats.successes, stats.errors, stats.p95) == (1, 2, 0.3)


@pytest.mark.parametrize("n", [1, 2, 19, 20, 21, 100, 2000])
def test_p95_is_the_nearest_rank(n: int) -> None:
    values = random.Random(n).sample(range(10 * n), n)
    assert p95(values) == sorted(values)[math.ceil(0.95 * n) - 1]


def test_window_state_round_trips_through_json() -> None:
    window = SloWindow()
    for i in range(8):
        window.add(100.0 + i, "eu" if i % 2 else "us", i != 3, 0.1 * (i + 1))
    window.exclude_since("us", 103.0)
    window.prune(now=110.0, span=300.0)
    restored = SloWindow.from_state(json.loads(json.dumps(window.to_state())))
    assert restored.stats(200.0, 10.0, 1) == window.stats(200.0, 10.0, 1)
    assert len(restored) == len(window) == 8


@pytest.mark.parametrize(
    ("prev", "now"),
    [
        (float("-inf"), 100.0),
        (100.0, 101.0),
        (100.0, 100.0),
        (1_796_000_000.2, 1_796_000_001.3),
        (100.0, 105.0),
        (100.0, 130.5),
        (99.999, 100.001),
    ],
    ids=[
        "first-tick",
        "one-second",
        "same-instant",
        "wall-clock",
        "a-cycle",
        "many-cycles",
        "edge",
    ],
)
def test_fresh_checks_by_phase_take_exactly_the_checks_whose_bucket_began(
    prev: float, now: float
) -> None:
    """`FreshChecks.take` looks at phases, not at every check: it must name
    the same checks as comparing every fresh check's buckets, and keep the
    others for a later tick."""
    names = [f"check-{i}" for i in range(3000)]
    fresh = FreshChecks(names)
    taken = fresh.take(prev, now)
    expected = {n for n in names if bucket(n, now) > bucket(n, prev)}
    assert set(taken) == expected
    assert len(taken) == len(expected)  # each once
    assert len(fresh) == len(names) - len(expected)
    assert all((n in fresh) != (n in expected) for n in names)
