"""Statistics per (check, region) and per check over all regions.

Pure: `ingest(samples, now)` updates state; readers take `now` too. Work is
aggregated per batch and key, which is what lets one core ingest over 100k
results a second.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from collector.model import Sample
from collector.stats import sketch
from collector.stats.window import Window

ALL = "all"
"""The pseudo-region that aggregates every region of a check."""

WINDOWS: dict[str, tuple[float, float]] = {"5m": (300.0, 10.0), "1h": (3600.0, 60.0)}
"""Window name -> (span, slot width) in seconds."""

HISTOGRAM_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of `vantage_probe_duration_seconds` buckets (+Inf implied)."""

Key = tuple[str, str]


@dataclass
class Series:
    """Everything known about one (check, region) or (check, "all")."""

    windows: dict[str, Window] = field(
        default_factory=lambda: {name: Window(span, slot) for name, (span, slot) in WINDOWS.items()}
    )
    outcomes: Counter[str] = field(default_factory=Counter)
    histogram: list[int] = field(default_factory=lambda: [0] * (len(HISTOGRAM_BOUNDS) + 1))
    duration_sum: float = 0.0
    last: Sample | None = None

    def add(self, at: float, now: float, latency: Counter[int], ok: int, failed: int) -> None:
        """Feed every window with one aggregated slice."""
        for window in self.windows.values():
            window.add(at, now, latency, ok, failed)


@dataclass
class _Slice:
    latency: Counter[int] = field(default_factory=Counter)
    ok: int = 0
    failed: int = 0
    at: float = 0.0


class Stats:
    """All series, keyed by (check, region)."""

    def __init__(self) -> None:
        self.series: dict[Key, Series] = {}

    def ingest(self, samples: Iterable[Sample], now: float) -> int:
        """Add a batch of samples; returns how many were counted."""
        slices: dict[Key, _Slice] = defaultdict(_Slice)
        count = 0
        for s in samples:
            count += 1
            series = self._series((s.check, s.region))
            self._record(series, s)
            index = sketch.bucket(s.duration) if s.success else None
            for key in ((s.check, s.region), (s.check, ALL)):
                part = slices[key]
                part.at = max(part.at, s.ended_at)
                if index is None:
                    part.failed += 1
                else:
                    part.ok += 1
                    part.latency[index] += 1
        for key, part in slices.items():
            self._series(key).add(part.at, now, part.latency, part.ok, part.failed)
        return count

    def _series(self, key: Key) -> Series:
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
        return series

    @staticmethod
    def _record(series: Series, s: Sample) -> None:
        series.outcomes["success" if s.success else s.reason.value] += 1
        series.histogram[bisect.bisect_left(HISTOGRAM_BOUNDS, s.duration)] += 1
        series.duration_sum += s.duration
        if series.last is None or s.started_at >= series.last.started_at:
            series.last = s

    def forget(self, keep_checks: Iterable[str]) -> None:
        """Drop series of checks no longer configured."""
        keep = set(keep_checks)
        for key in [k for k in self.series if k[0] not in keep]:
            del self.series[key]

    def regions(self, check: str) -> list[str]:
        """Regions that reported `check`, sorted, without ALL."""
        return sorted(r for c, r in self.series if c == check and r != ALL)
