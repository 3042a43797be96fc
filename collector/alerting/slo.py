"""SLO windows per check: exact p95 of successful durations and the error
ratio over a sliding time window. Pure.

Windows are small in production (a few results per minute per region), so
the p95 is exact (nearest rank over the kept durations), not a sketch.

Two rules keep an outage from paging twice, once as "down" and again as
"error ratio":
- failures that belong to an incident are *excluded* (see `exclude_since`
  and the `excluded` flag of a `Failed` result), during the outage and after it;
- a failure counts only once it is *settled*: older than the time an outage
  needs to be confirmed. Until then it may still turn out to be the first
  failure of an outage, which pages on its own.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

from collector.alerting.model import Severity


@dataclass(frozen=True)
class SloPolicy:
    """SLO thresholds of one check; the defaults are the documented ones."""

    p95_warning: float = 0.5
    p95_critical: float = 0.8
    error_ratio: float = 0.01
    window: float = 300.0
    min_samples: int = 5
    """Fewer results than this in the window say nothing (e.g. just after
    start); the alert state is left as it is."""


Failed = tuple[float, str, bool]
"""One failed result as the window keeps it: (at, region, excluded), where
`excluded` marks a failure that belongs to an incident already paged. A
plain tuple of atoms, which the garbage collector stops tracking."""


@dataclass(frozen=True)
class SloStats:
    """What a window holds now."""

    p95: float | None
    """None when there are fewer than `min_samples` successes."""
    successes: int
    errors: int
    """Settled failures that belong to no incident."""
    total: int
    """Successes plus `errors`; 0 when fewer than `min_samples`."""

    @property
    def error_ratio(self) -> float | None:
        """Errors over results, or None when there are too few results."""
        return self.errors / self.total if self.total else None


def p95(values: Collection[float]) -> float:
    """Exact 95th percentile by nearest rank; `values` must not be empty.

    The value at rank ceil(0.95 n) is the k-th largest, k = n - rank + 1, so
    only the top 5% are kept in order, not all n."""
    rank = math.ceil(0.95 * len(values))
    return heapq.nlargest(len(values) - rank + 1, values)[-1]


MAX_SAMPLES = 2000
"""Successes, and failures, one check's window keeps. At one result per
region per interval a 5-minute window holds a few dozen; under a flood it
keeps the newest 2,000 of each (successes: from each `prune` on), so every
tick stays cheap and the p95 stays meaningful."""


class SloWindow:
    """The results of one check over all its regions, oldest first:
    successes as two parallel arrays of unboxed floats (end time, duration),
    so a full window holds no Python object per result, and failures as
    `Failed` tuples."""

    def __init__(self) -> None:
        self._ok_at = array("d")
        self._ok = array("d")
        self._failed: deque[Failed] = deque(maxlen=MAX_SAMPLES)

    def __len__(self) -> int:
        return len(self._ok) + len(self._failed)

    def add(
        self, at: float, region: str, success: bool, duration: float, excluded: bool = False
    ) -> None:
        """Append a result (results arrive roughly in time order)."""
        if success:
            self._ok_at.append(at)
            self._ok.append(duration)
        else:
            self._failed.append((at, region, excluded))

    def prune(self, now: float, span: float) -> None:
        """Drop results older than `span` seconds, and successes beyond the
        newest MAX_SAMPLES."""
        oldest = now - span
        ok_at, ok, failed = self._ok_at, self._ok, self._failed
        drop = max(0, len(ok) - MAX_SAMPLES)
        while drop < len(ok_at) and ok_at[drop] <= oldest:
            drop += 1
        del ok_at[:drop], ok[:drop]
        while failed and failed[0][0] <= oldest:
            failed.popleft()

    def exclude_since(self, region: str, since: float) -> None:
        """Mark `region`'s failures from `since` on as part of an incident."""
        marked = ((at, r, x or (r == region and at >= since)) for at, r, x in self._failed)
        self._failed = deque(marked, maxlen=MAX_SAMPLES)

    def stats(self, now: float, settle: float, min_samples: int) -> SloStats:
        """p95 and error counts; failures younger than `settle` are left out
        of both sides of the ratio, as are excluded ones."""
        durations = self._ok[-MAX_SAMPLES:]
        successes = len(durations)
        errors = sum(1 for at, _, x in self._failed if not x and now - at >= settle)
        counted = successes + errors
        return SloStats(
            p95=p95(durations) if successes >= min_samples else None,
            successes=successes,
            errors=errors,
            total=counted if counted >= min_samples else 0,
        )


def latency_level(p95_seconds: float, policy: SloPolicy) -> Severity | None:
    """The severity a p95 deserves (None: within budget)."""
    if p95_seconds <= policy.p95_warning:
        return None
    return Severity.CRITICAL if p95_seconds > policy.p95_critical else Severity.WARNING


def error_level(ratio: float, policy: SloPolicy) -> Severity | None:
    """Warning when the error ratio is over budget (None: within budget)."""
    return Severity.WARNING if ratio > policy.error_ratio else None
