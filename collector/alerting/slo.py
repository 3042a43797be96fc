"""SLO windows per check: p95 of successful durations and the error ratio
over a sliding time window. Pure.

Successes are kept by the collector's one window engine
(`collector.stats.window`) and the p95 is its one rule, so the alert judges
the number the dashboard shows (`vantage_check_latency_p95_seconds{region="all",
window="5m"}`).

Two rules keep an outage from paging twice, once as "down" and again as
"error ratio":
- failures that belong to an incident are *excluded* (see `exclude_since`
  and the `excluded` flag of a `Failed` result), during the outage and after it;
- a failure counts only once it is *settled*: older than the time an outage
  needs to be confirmed. Until then it may still turn out to be the first
  failure of an outage, which pages on its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from collector.alerting.model import Severity
from collector.stats.series import SLO_WINDOW, WINDOWS
from collector.stats.window import MAX_SAMPLES, Window, p95
from common.config.base import SloSpec

_DEFAULTS = SloSpec.model_fields  # the defaults live in the config model


@dataclass(frozen=True)
class SloPolicy:
    """SLO thresholds of one check; the defaults are the config model's
    (`common.config.base.SloSpec`), and the window is the dashboard's
    `5m` one (`collector.stats.series`)."""

    p95_warning: float = _DEFAULTS["p95_warning"].default
    p95_critical: float = _DEFAULTS["p95_critical"].default
    error_ratio: float = _DEFAULTS["error_ratio"].default
    window: float = WINDOWS[SLO_WINDOW]
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


class SloWindow:
    """The results of one check over all its regions: successes in a
    `Window` (the newest MAX_SAMPLES within the span), failures as `Failed`
    tuples, oldest first."""

    __slots__ = ("_failed", "_ok")

    def __init__(self, span: float = float("inf")) -> None:
        self._ok = Window(span)
        self._failed: deque[Failed] | tuple[()] = ()
        """A deque from the first failure on: an empty one costs 600 B, and
        most checks of a 50,000-check collector never fail in a window."""

    def __len__(self) -> int:
        return len(self._ok) + len(self._failed)

    def add(
        self, at: float, region: str, success: bool, duration: float, excluded: bool = False
    ) -> None:
        """Append a result (results arrive roughly in time order)."""
        if success:
            self._ok.add(at, duration, True)
        else:
            self._failures().append((at, region, excluded))

    def prune(self, now: float, span: float) -> None:
        """Drop results `span` seconds old or more, and successes beyond the
        newest MAX_SAMPLES."""
        oldest = now - span
        self._ok.span = span
        self._ok.prune(now)
        failed = self._failed
        while isinstance(failed, deque) and failed and failed[0][0] <= oldest:
            failed.popleft()
        if isinstance(failed, deque) and not failed:
            self._failed = ()  # an empty deque is 600 B; most windows hold no failure

    def _failures(self) -> deque[Failed]:
        if not isinstance(self._failed, deque):
            self._failed = deque(maxlen=MAX_SAMPLES)
        return self._failed

    def to_state(self) -> dict[str, Any]:
        """The window as JSON-able data, for `from_state` after a restart."""
        failed = [list(f) for f in self._failed]
        return {"span": self._ok.span, "ok": self._ok.to_state(), "failed": failed}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> SloWindow:
        """A window from `to_state` output."""
        window = cls()
        window._ok = Window.from_state(float(data.get("span", "inf")), data.get("ok", {}))
        for at, region, excluded in data.get("failed", ()):
            window._failures().append((float(at), str(region), bool(excluded)))
        return window

    def exclude_since(self, region: str, since: float) -> None:
        """Mark `region`'s failures from `since` on as part of an incident."""
        if self._failed:
            marked = ((at, r, x or (r == region and at >= since)) for at, r, x in self._failed)
            self._failed = deque(marked, maxlen=MAX_SAMPLES)

    def hot_until(self, slow: float, span: float) -> float:
        """Until when the window holds something an SLO alert could start
        on: a success slower than `slow` or a failure that counts
        (-inf: nothing; time alone only removes results)."""
        at = self._ok.slower_than(slow)
        for failed_at, _, excluded in self._failed:
            if not excluded:
                at = max(at, failed_at)
        return at + span

    def next_change(self, now: float, span: float, settle: float) -> float:
        """When time alone next changes what `stats` says (inf: never): the
        oldest result leaves the window, or a counted failure settles."""
        at = self._ok.expires(now, span)
        for failed_at, _, excluded in self._failed:
            if failed_at > now - span:
                at = min(at, failed_at + span)
            if not excluded and now - failed_at < settle:
                at = min(at, failed_at + settle)
        return at

    def stats(self, now: float, settle: float, min_samples: int) -> SloStats:
        """p95 and error counts; failures younger than `settle` are left out
        of both sides of the ratio, as are excluded ones."""
        durations = self._ok.durations(now, self._ok.span)
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
