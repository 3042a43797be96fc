"""Sliding time windows: latency p95 and error ratio over the last N seconds.

Pure: time comes in as arguments. The window is a ring of fixed-width slots
plus running totals, so adding is O(1) per bucket and reading the p95 costs
one pass over the occupied sketch buckets, whatever the sample count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from collector.stats import sketch


@dataclass
class _Slot:
    latency: Counter[int] = field(default_factory=Counter)
    ok: int = 0
    failed: int = 0


@dataclass
class Window:
    """One sliding window of `span` seconds cut into slots of `slot` seconds."""

    span: float
    slot: float
    slots: dict[int, _Slot] = field(default_factory=dict)
    latency: Counter[int] = field(default_factory=Counter)
    ok: int = 0
    failed: int = 0

    @property
    def _count(self) -> int:
        return math.ceil(self.span / self.slot)

    def add(self, at: float, now: float, latency: Mapping[int, int], ok: int, failed: int) -> None:
        """Add results that ended at `at` (clamped to `now`).

        `latency` holds sketch bucket counts of successful results only: the
        p95 is about answers that worked, while failures go to the ratio.
        """
        index = math.floor(min(at, now) / self.slot)
        if index <= math.floor(now / self.slot) - self._count:
            return  # older than the window
        self.expire(now)
        slot = self.slots.setdefault(index, _Slot())
        slot.latency.update(latency)
        self.latency.update(latency)
        slot.ok += ok
        slot.failed += failed
        self.ok += ok
        self.failed += failed

    def expire(self, now: float) -> None:
        """Drop slots that slid out of the window."""
        oldest = math.floor(now / self.slot) - self._count
        for index in [i for i in self.slots if i <= oldest]:
            slot = self.slots.pop(index)
            sketch.subtract(self.latency, slot.latency)
            self.ok -= slot.ok
            self.failed -= slot.failed

    def p95(self, now: float) -> float | None:
        """p95 of successful latencies in the window, None when there are none."""
        self.expire(now)
        return sketch.quantile(self.latency, 0.95)

    def error_ratio(self, now: float) -> float | None:
        """Failed / all results in the window, None when there are none."""
        self.expire(now)
        total = self.ok + self.failed
        return self.failed / total if total else None

    def samples(self, now: float) -> int:
        """Results in the window."""
        self.expire(now)
        return self.ok + self.failed
