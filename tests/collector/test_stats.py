"""Per (check, region) and per-check statistics from batches of samples."""

from __future__ import annotations

from collections import Counter

import pytest

from collector.stats.series import ALL, HISTOGRAM_BOUNDS, Stats, counted
from common.reasons import FailureReason
from tests.support.samples import sample


def test_regions_and_all_get_their_own_figures() -> None:
    stats = Stats()
    batch = [sample("home", "eu", 100 + i) for i in range(10)]
    batch += [sample("home", "us", 100 + i, duration=0.3) for i in range(10)]
    batch += [sample("home", "us", 111, False, 0.0)]
    assert stats.ingest(batch, now=120) == 21
    eu, us, both = (stats.figures("home", r, 120)["5m"] for r in ("eu", "us", ALL))
    assert (eu.p95, us.p95, both.p95) == (0.1, 0.3, 0.3)
    assert us.error_ratio == pytest.approx(1 / 11)
    assert both.error_ratio == pytest.approx(1 / 21)
    assert set(stats.checks["home"].regions) == {"eu", "us"}


def test_last_result_outcomes_and_histogram() -> None:
    stats = Stats(detailed=True)
    stats.ingest(
        [
            sample("home", "eu", 200, duration=0.02),
            sample("home", "eu", 100, False, 7.0, reason=FailureReason.CONNECT_REFUSED),
        ],
        300,
    )
    series = stats.get("home", "eu")
    assert series is not None and series.last is not None
    assert series.last.at == 200  # the newest, not the last received
    assert series.outcomes == {"success": 1, "connect_refused": 1}
    assert series.histogram is not None
    assert series.histogram[HISTOGRAM_BOUNDS.index(0.025)] == 1
    assert series.histogram[HISTOGRAM_BOUNDS.index(10.0)] == 1
    assert series.duration_sum == pytest.approx(7.02)


def test_an_expiring_certificate_counts_as_a_success_in_windows_only() -> None:
    stats = Stats()
    expiring = sample("cert", "eu", 100, False, 0.2, reason=FailureReason.TLS_EXPIRING)
    stats.ingest([expiring], 100)
    assert stats.figures("cert", "eu", 100)["5m"].p95 == 0.2
    series = stats.get("cert", "eu")
    assert series is not None and series.outcomes == {"tls_expiring": 1}


def test_ingest_clears_the_render_caches() -> None:
    stats = Stats()
    stats.ingest([sample("home", "eu", 100)], 100)
    check = stats.checks["home"]
    check.text = check.regions["eu"].text = b"cached"
    stats.ingest([sample("home", "eu", 160)], 160)
    assert check.text is None and check.regions["eu"].text is None


def test_forget_drops_removed_checks() -> None:
    stats = Stats()
    stats.ingest([sample("old", "eu", 1), sample("new", "eu", 1)], 2)
    stats.forget(["new"])
    assert set(stats.checks) == {"new"}


@pytest.mark.parametrize(
    "reasons",
    [
        [],
        ["timeout"],
        ["timeout", "timeout", "timeout"],
        ["timeout", "http_status", "timeout", "connect_refused", "http_status", "timeout"],
        ["http_status", "timeout", "http_status"],
    ],
    ids=["none", "one", "one-reason-thrice", "three-reasons-interleaved", "first-reason-again"],
)
def test_failure_counts_equal_a_counter_of_the_reasons(reasons: list[str]) -> None:
    counts: tuple[tuple[str, int], ...] = ()
    for reason in reasons:
        counts = counted(counts, reason)
    assert dict(counts) == Counter(reasons)
    assert [name for name, _ in counts] == list(dict.fromkeys(reasons))  # first-seen order


def test_outcomes_count_successes_and_each_failure_reason() -> None:
    stats = Stats()
    reasons = [FailureReason.TIMEOUT, FailureReason.HTTP_STATUS, FailureReason.TIMEOUT]
    samples = [sample("a", "eu", float(i)) for i in range(3)]
    samples += [sample("a", "eu", 10.0 + i, False, reason=r) for i, r in enumerate(reasons)]
    stats.ingest(samples, 20.0)
    series = stats.get("a", "eu")
    assert series is not None
    assert series.outcomes == {"success": 3, "timeout": 2, "http_status": 1}
