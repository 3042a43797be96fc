"""Statistics per (check, region) and per check over all regions.

Pure: `ingest(samples, now)` updates state; readers take `now` too.

Ingest is the collector's hot path. Results land in their regional series
only, in a pending 10-second slot that keeps the durations (folded into
sketch buckets every 512); slots go to the windows (the series' own and the
check's ALL series') when a reader asks or when too many are open, so the
window work is done per slot, not per result.
At one result per check and region per interval that is one hand-over per
result; under load it is one per slot, however many results arrive.
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


_FOLD = 512
"""Durations a pending slot keeps before folding them into sketch buckets,
so a flood between two scrapes holds buckets, not every duration."""


class _Slot:
    """Results of one series that ended in one 10-second slot, not yet in
    the windows: successes (recent durations, older ones folded into sketch
    buckets) and a count of failures."""

    __slots__ = ("durations", "failed", "folded", "latency")

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.latency: Counter[int] = Counter()
        self.folded = 0
        self.failed = 0

    def fold(self) -> None:
        """Move the kept durations into the sketch buckets."""
        self.latency.update(map(sketch.bucket, self.durations))
        self.folded += len(self.durations)
        self.durations.clear()


@dataclass(eq=False)
class Series:
    """Everything known about one (check, region) or (check, "all").

    Results land in a regional series only. Its pending slots go to its own
    windows and to the check's ALL series' windows when they settle, so each
    result is counted once on the hot path, not once per series.
    """

    windows: dict[str, Window] = field(
        default_factory=lambda: {name: Window(span, slot) for name, (span, slot) in WINDOWS.items()}
    )
    outcomes: dict[str, int] = field(default_factory=dict)
    histogram: list[int] = field(default_factory=lambda: [0] * (len(HISTOGRAM_BOUNDS) + 1))
    duration_sum: float = 0.0
    last: Sample | None = None
    overall: Series | None = None
    """The check's ALL series, fed with every result of this one."""
    parts: list[Series] = field(default_factory=list)
    """For an ALL series: the regional series that feed it."""
    pending: dict[int, _Slot] = field(default_factory=dict)
    pending_now: float = 0.0

    def settle(self) -> None:
        """Hand the pending slots to the windows (this series' and ALL's)."""
        for part in self.parts:
            part.settle()
        if not self.pending:
            return
        targets = [*self.windows.values()]
        if self.overall is not None:
            targets += self.overall.windows.values()
        for index, slot in sorted(self.pending.items()):
            slot.fold()
            for window in targets:
                window.add(index * SLOT, self.pending_now, slot.latency, slot.folded, slot.failed)
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
        """Add a batch of samples; returns how many were counted.

        The hot path: one series lookup and a few counters per result, the
        sketch work is done per slot when it settles.
        """
        count = 0
        series = self.series
        bounds = HISTOGRAM_BOUNDS
        for s in samples:
            count += 1
            regional = series.get((s.check, s.region))
            if regional is None:
                regional = self._new(s.check, s.region)
            duration = s.duration
            outcome = "success" if s.success else s.reason.value
            outcomes = regional.outcomes
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            regional.histogram[_bisect(bounds, duration)] += 1
            regional.duration_sum += duration
            last = regional.last
            if last is None or s.started_at >= last.started_at:
                regional.last = s
            ended = s.at
            index = int((ended if ended < now else now) // SLOT)
            pending = regional.pending
            slot = pending.get(index)
            if slot is None:
                if len(pending) >= _MAX_PENDING:
                    regional.settle()
                slot = pending[index] = _Slot()
            regional.pending_now = now
            if s.success:
                durations = slot.durations
                durations.append(duration)
                if len(durations) >= _FOLD:
                    slot.fold()
            else:
                slot.failed += 1
        return count

    def _new(self, check: str, region: str) -> Series:
        overall = self.series.get((check, ALL))
        if overall is None:
            overall = self.series[check, ALL] = Series()
        regional = self.series[check, region] = Series(overall=overall)
        overall.parts.append(regional)
        return regional

    def forget(self, keep_checks: Iterable[str]) -> None:
        """Drop series of checks no longer configured."""
        keep = set(keep_checks)
        for key in [k for k in self.series if k[0] not in keep]:
            del self.series[key]
