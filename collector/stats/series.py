"""Statistics per (check, region) and per check over all regions.

Pure: `ingest(samples, now)` updates state; readers take `now` too.

Ingest is the collector's hot path. Each series accumulates results per
10-second slot in small dicts of sketch buckets and hands the slots to its
windows when a reader asks or when too many are open. At one result per
check and region per interval that is one hand-over per result; under load
it is one per slot, however many results arrive.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from collector.model import Sample
from collector.stats import sketch
from collector.stats.window import Window

ALL = "all"
"""The pseudo-region that aggregates every region of a check."""

WINDOWS: dict[str, tuple[float, float]] = {"5m": (300.0, 10.0), "1h": (3600.0, 60.0)}
"""Window name -> (span, slot width) in seconds."""

SLOT = 10.0
"""Width of the accumulating slot; divides every window's slot width."""

HISTOGRAM_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of `vantage_probe_duration_seconds` buckets (+Inf implied)."""

Key = tuple[str, str]
_bisect = bisect.bisect_left

_MAX_PENDING = 8
"""Slots a series accumulates before handing them to its windows; results
arrive a little out of order, so more than one slot is open at a time."""


@dataclass
class _Slot:
    latency: dict[int, int] = field(default_factory=dict)
    ok: int = 0
    failed: int = 0


@dataclass
class Series:
    """Everything known about one (check, region) or (check, "all")."""

    windows: dict[str, Window] = field(
        default_factory=lambda: {name: Window(span, slot) for name, (span, slot) in WINDOWS.items()}
    )
    outcomes: dict[str, int] = field(default_factory=dict)
    histogram: list[int] = field(default_factory=lambda: [0] * (len(HISTOGRAM_BOUNDS) + 1))
    duration_sum: float = 0.0
    last: Sample | None = None
    overall: Series | None = None
    """The check's ALL series, fed with every result of this one."""
    pending: dict[int, _Slot] = field(default_factory=dict)
    pending_now: float = 0.0

    def add(self, ended_at: float, bucket: int | None, now: float) -> None:
        """Count one result (`bucket` None for a failure) in its pending slot."""
        index = int(min(ended_at, now) // SLOT)
        slot = self.pending.get(index)
        if slot is None:
            if len(self.pending) >= _MAX_PENDING:
                self.settle()
            slot = self.pending[index] = _Slot()
        self.pending_now = now
        if bucket is None:
            slot.failed += 1
        else:
            slot.ok += 1
            slot.latency[bucket] = slot.latency.get(bucket, 0) + 1

    def settle(self) -> None:
        """Hand the pending slots to the windows."""
        for index, slot in sorted(self.pending.items()):
            latency = Counter(slot.latency)
            for window in self.windows.values():
                window.add(index * SLOT, self.pending_now, latency, slot.ok, slot.failed)
        self.pending.clear()

    def window(self, name: str) -> Window:
        """A window, with every result counted so far."""
        self.settle()
        return self.windows[name]


class Stats:
    """All series, keyed by (check, region)."""

    def __init__(self) -> None:
        self.series: dict[Key, Series] = {}

    def ingest(self, samples: Iterable[Sample], now: float) -> int:
        """Add a batch of samples; returns how many were counted."""
        count = 0
        series = self.series
        for s in samples:
            count += 1
            regional = series.get((s.check, s.region)) or self._new(s.check, s.region)
            _record(regional, s)
            duration = s.duration
            bucket = sketch.bucket(duration) if s.success else None
            ended = s.started_at + duration
            regional.add(ended, bucket, now)
            assert regional.overall is not None
            regional.overall.add(ended, bucket, now)
        return count

    def _new(self, check: str, region: str) -> Series:
        overall = self.series.get((check, ALL))
        if overall is None:
            overall = self.series[check, ALL] = Series()
        regional = self.series[check, region] = Series(overall=overall)
        return regional

    def forget(self, keep_checks: Iterable[str]) -> None:
        """Drop series of checks no longer configured."""
        keep = set(keep_checks)
        for key in [k for k in self.series if k[0] not in keep]:
            del self.series[key]


def _record(series: Series, s: Sample) -> None:
    outcome = "success" if s.success else s.reason.value
    outcomes = series.outcomes
    outcomes[outcome] = outcomes.get(outcome, 0) + 1
    series.histogram[_bisect(HISTOGRAM_BOUNDS, s.duration)] += 1
    series.duration_sum += s.duration
    if series.last is None or s.started_at >= series.last.started_at:
        series.last = s
