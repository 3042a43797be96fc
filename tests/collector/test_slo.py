"""The SLO window: what counts towards the p95 and the error ratio."""

from __future__ import annotations

import pytest

from collector.alerting.slo import MAX_SAMPLES, SloWindow


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
    window.add(1e6, "eu", True, 0.1)
    assert len(window) == MAX_SAMPLES
    rows = window.to_list()
    assert rows[-1] == [1e6, "eu", True, 0.1, False]
    assert all(excluded for *_, excluded in rows[:-1])
    assert SloWindow.from_list(rows).to_list() == rows


def test_prune_drops_old_samples() -> None:
    window = SloWindow()
    for at in (10.0, 20.0, 30.0):
        window.add(at, "eu", True, 0.1)
    window.prune(now=40.0, span=20.0)
    assert [row[0] for row in window.to_list()] == [30.0]
