"""SLO windows per check: exact p95 of successful durations and the error
ratio over a sliding time window. Pure.

Windows are small in production (a few results per minute per region), so
the p95 is exact (nearest rank over the sorted samples), not a sketch.

Two rules keep an outage from paging twice, once as "down" and again as
"error ratio":
- failures that belong to an incident are *excluded* (see `exclude_since`
  and the `excluded` flag of a `Sample`), during the outage and after it;
- a failure counts only once it is *settled*: older than the time an outage
  needs to be confirmed. Until then it may still turn out to be the first
  failure of an outage, which pages on its own.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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


Sample = tuple[float, str, bool, float, bool]
"""One result as the window sees it: (at, region, success, duration,
excluded), where `excluded` marks a failure that belongs to an incident
already paged. A plain tuple of atoms: one is kept per result, and the
garbage collector stops tracking such tuples, so a full window costs it
nothing."""


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


def p95(values: Sequence[float]) -> float:
    """Exact 95th percentile by nearest rank; `values` must not be empty."""
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


MAX_SAMPLES = 2000
"""Samples one check's window keeps. At one result per region per interval
a 5-minute window holds a few dozen; under a flood it keeps the newest
2,000, so every tick stays cheap and the p95 stays meaningful."""


class SloWindow:
    """The samples of one check over all its regions, oldest first."""

    def __init__(self, samples: Iterable[Sample] = ()) -> None:
        self._samples: deque[Sample] = deque(samples, maxlen=MAX_SAMPLES)

    def __len__(self) -> int:
        return len(self._samples)

    def add(
        self, at: float, region: str, success: bool, duration: float, excluded: bool = False
    ) -> None:
        """Append a result (results arrive roughly in time order)."""
        self._samples.append((at, region, success, duration, excluded))

    def prune(self, now: float, span: float) -> None:
        """Drop samples older than `span` seconds."""
        samples = self._samples
        while samples and samples[0][0] <= now - span:
            samples.popleft()

    def exclude_since(self, region: str, since: float) -> None:
        """Mark `region`'s failures from `since` on as part of an incident."""
        marked = (
            (at, r, ok, d, x or (r == region and not ok and at >= since))
            for at, r, ok, d, x in self._samples
        )
        self._samples = deque(marked, maxlen=MAX_SAMPLES)

    def stats(self, now: float, settle: float, min_samples: int) -> SloStats:
        """p95 and error counts; failures younger than `settle` are left out
        of both sides of the ratio, as are excluded ones."""
        durations = [d for _, _, ok, d, _ in self._samples if ok]
        errors = sum(
            1 for at, _, ok, _, x in self._samples if not ok and not x and now - at >= settle
        )
        counted = len(durations) + errors
        return SloStats(
            p95=p95(durations) if len(durations) >= min_samples else None,
            successes=len(durations),
            errors=errors,
            total=counted if counted >= min_samples else 0,
        )

    def to_list(self) -> list[list[Any]]:
        """JSON-able form, compact: one row per sample."""
        return [list(sample) for sample in self._samples]

    @classmethod
    def from_list(cls, rows: Iterable[Sequence[Any]]) -> SloWindow:
        """Inverse of `to_list`."""
        return cls((float(a), str(r), bool(ok), float(d), bool(x)) for a, r, ok, d, x in rows)


def latency_level(p95_seconds: float, policy: SloPolicy) -> Severity | None:
    """The severity a p95 deserves (None: within budget)."""
    if p95_seconds <= policy.p95_warning:
        return None
    return Severity.CRITICAL if p95_seconds > policy.p95_critical else Severity.WARNING


def error_level(ratio: float, policy: SloPolicy) -> Severity | None:
    """Warning when the error ratio is over budget (None: within budget)."""
    return Severity.WARNING if ratio > policy.error_ratio else None
