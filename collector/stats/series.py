"""Statistics per (check, region) and per check over all regions.

Pure: `ingest(samples, now)` updates state; readers take `now` too.

Ingest is the collector's hot path. A successful result is one duration
appended to a pending 10-second slot of its regional series; the counting
(outcome, histogram bucket, duration sum, sketch bucket) is done in bulk
when the slot folds: every 512 durations, or when a reader asks. A failure,
rare, is counted at once. Slots go to the windows (the series' own and the
check's ALL series') when a reader asks or when too many are open, so the
window work is done per slot, not per result.
"""

from __future__ import annotations

import bisect
import functools
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
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

_MAX_PENDING = 8
"""Slots a series accumulates before handing them to its windows; results
arrive a little out of order, so more than one slot is open at a time."""


_FOLD = 512
"""Durations a pending slot keeps before they are counted in bulk, so a
flood between two scrapes holds counts, not every duration."""

_histogram_index = functools.partial(bisect.bisect_left, HISTOGRAM_BOUNDS)


class _Slot:
    """Results of one series that ended in one 10-second slot, not yet in
    the windows: successes (durations not counted yet, unboxed, and sketch
    buckets of those that are) and a count of failures."""

    __slots__ = ("durations", "failed", "folded", "latency")

    def __init__(self) -> None:
        self.durations = array("d")
        self.latency: Counter[int] = Counter()
        self.folded = 0
        self.failed = 0


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
    last: Sample | None = None
    overall: Series | None = None
    """The check's ALL series, fed with every result of this one."""
    parts: list[Series] = field(default_factory=list)
    """For an ALL series: the regional series that feed it."""
    pending: dict[int, _Slot] = field(default_factory=dict)
    pending_now: float = 0.0
    _outcomes: dict[str, int] = field(default_factory=dict)
    _histogram: list[int] = field(default_factory=lambda: [0] * (len(HISTOGRAM_BOUNDS) + 1))
    _duration_sum: float = 0.0

    @property
    def outcomes(self) -> dict[str, int]:
        """Results by outcome: `success` or the failure reason."""
        self._fold_pending()
        return self._outcomes

    @property
    def histogram(self) -> list[int]:
        """Results per `HISTOGRAM_BOUNDS` bucket (not cumulative; +Inf last)."""
        self._fold_pending()
        return self._histogram

    @property
    def duration_sum(self) -> float:
        """The sum of every result's duration."""
        self._fold_pending()
        return self._duration_sum

    def open_slot(self, index: int) -> _Slot:
        """A new pending slot; settles the others first when too many are open."""
        if len(self.pending) >= _MAX_PENDING:
            self.settle()
        slot = self.pending[index] = _Slot()
        return slot

    def fail(self, slot: _Slot, sample: Sample) -> None:
        """Count a failed result (rare: counted at once, not in bulk)."""
        outcome = sample.reason.value
        self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1
        self._histogram[_histogram_index(sample.duration)] += 1
        self._duration_sum += sample.duration
        slot.failed += 1

    def fold(self, slot: _Slot) -> None:
        """Count a slot's pending durations, in bulk, and forget them."""
        durations = slot.durations
        if not durations:
            return
        slot.latency.update(sketch.buckets(durations))
        histogram = self._histogram
        for index, count in Counter(map(_histogram_index, durations)).items():
            histogram[index] += count
        self._duration_sum += math.fsum(durations)
        self._outcomes["success"] = self._outcomes.get("success", 0) + len(durations)
        slot.folded += len(durations)
        del durations[:]

    def _fold_pending(self) -> None:
        for slot in self.pending.values():
            self.fold(slot)

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
            self.fold(slot)
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

    def ingest(self, samples: Sequence[Sample], now: float) -> int:
        """Add a batch of samples; returns how many were counted.

        The hot path: one series lookup and one slot lookup per result; a
        success is one appended duration (see `Series.fold`).
        """
        series = self.series
        for s in samples:
            regional = series.get((s.check, s.region))
            if regional is None:
                regional = self._new(s.check, s.region)
            last = regional.last
            if last is None or s.started_at >= last.started_at:
                regional.last = s
            ended = s.at
            # int(t / SLOT) is floor(t / SLOT) for unix times, and cheaper than //
            index = int((ended if ended < now else now) / SLOT)
            slot = regional.pending.get(index)
            if slot is None:
                slot = regional.open_slot(index)
            regional.pending_now = now
            if s.success:
                durations = slot.durations
                durations.append(s.duration)
                if len(durations) >= _FOLD:
                    regional.fold(slot)
            else:
                regional.fail(slot, s)
        return len(samples)

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
