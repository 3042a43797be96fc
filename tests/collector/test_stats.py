"""Per (check, region) and per-check statistics from batches of samples."""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter

import pytest

from collector.model import Sample
from collector.stats import sketch
from collector.stats.series import ALL, HISTOGRAM_BOUNDS, Stats
from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb


def sample(check: str, region: str, at: float, duration: float, ok: bool = True) -> Sample:
    raw = pb.Result(check=check, check_type="http", started_at=at, duration_seconds=duration)
    raw.success = ok
    if not ok:
        raw.reason = FailureReason.CONNECT_REFUSED.to_proto()
    return Sample(raw, f"agent-{region}", region)


def test_regions_and_all_get_their_own_windows() -> None:
    stats = Stats()
    batch = [sample("home", "eu", 100 + i, 0.1) for i in range(10)]
    batch += [sample("home", "us", 100 + i, 0.3) for i in range(10)]
    batch += [sample("home", "us", 111, 0.0, ok=False)]
    assert stats.ingest(batch, now=120) == 21
    eu, us, both = (stats.series["home", r].window("5m") for r in ("eu", "us", ALL))
    assert eu.p95(120) == pytest.approx(0.1, rel=0.01)
    assert us.p95(120) == pytest.approx(0.3, rel=0.01)
    assert both.p95(120) == pytest.approx(0.3, rel=0.01)
    assert us.error_ratio(120) == pytest.approx(1 / 11)
    assert both.error_ratio(120) == pytest.approx(1 / 21)
    assert {r for c, r in stats.series if c == "home"} == {"eu", "us", ALL}


def test_last_result_outcomes_and_histogram() -> None:
    stats = Stats()
    stats.ingest([sample("home", "eu", 200, 0.02), sample("home", "eu", 100, 7.0, ok=False)], 300)
    series = stats.series["home", "eu"]
    assert series.last is not None and series.last.started_at == 200  # newest, not last received
    assert series.outcomes == {"success": 1, "connect_refused": 1}
    assert series.histogram[HISTOGRAM_BOUNDS.index(0.025)] == 1
    assert series.histogram[HISTOGRAM_BOUNDS.index(10.0)] == 1
    assert series.duration_sum == pytest.approx(7.02)


def test_forget_drops_removed_checks() -> None:
    stats = Stats()
    stats.ingest([sample("old", "eu", 1, 0.1), sample("new", "eu", 1, 0.1)], 2)
    stats.forget(["new"])
    assert {c for c, _ in stats.series} == {"new"}


def test_all_series_counts_slots_settled_by_any_reader() -> None:
    stats = Stats()
    stats.ingest([sample("home", "eu", 100, 0.1), sample("home", "us", 105, 0.2)], 110)
    stats.ingest([sample("home", "us", 200, 0.0, ok=False)], 210)
    assert stats.series["home", "eu"].window("5m").samples(210) == 1  # settles eu only
    overall = stats.series["home", ALL].window("5m")  # settles the rest
    assert overall.samples(210) == 3
    assert overall.error_ratio(210) == pytest.approx(1 / 3)
    assert overall.p95(210) == pytest.approx(0.1, rel=0.01)  # lower nearest rank of 2


def test_a_flood_in_one_slot_is_folded_into_buckets_without_losing_results() -> None:
    stats = Stats()
    durations = [0.001 * (i % 700 + 1) for i in range(2000)]  # > _FOLD in one slot
    batch = [sample("home", "eu", 100 + (i % 5), d) for i, d in enumerate(durations)]
    stats.ingest(batch, now=110)
    pending = stats.series["home", "eu"].pending
    assert max(len(slot.durations) for slot in pending.values()) < 512  # folded as it came
    window = stats.series["home", ALL].window("5m")
    assert window.samples(110) == 2000
    exact = sorted(durations)[math.floor(0.95 * (2000 - 1))]
    assert window.p95(110) == pytest.approx(exact, rel=0.01)
    # Counted in bulk, yet exactly: outcomes, histogram buckets and the sum.
    series = stats.series["home", "eu"]
    assert series.outcomes == {"success": 2000}
    histogram = [0] * (len(HISTOGRAM_BOUNDS) + 1)
    for d in durations:
        histogram[bisect.bisect_left(HISTOGRAM_BOUNDS, d)] += 1
    assert series.histogram == histogram
    assert series.duration_sum == pytest.approx(sum(durations))


@pytest.mark.parametrize("low", [1e-3, 1e-6, 0.0])
def test_sketch_buckets_in_bulk_equal_one_by_one(low: float) -> None:
    rng = random.Random(3)
    values = [low, *(rng.lognormvariate(-3, 1.5) for _ in range(5000))]
    assert sketch.buckets(values) == Counter(map(sketch.bucket, values))
