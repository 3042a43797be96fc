"""SLO alerts of the evaluator (`LatencyHigh`, `ErrorRatioHigh`) and when
they are evaluated. Pure; mixed into the `Evaluator`, whose state it reads.

**When.** A check's SLO is evaluated at most once per `SLO_EVERY` bucket
(each check has its own phase, from its name, so evaluations spread over
the ticks), at the first tick of a bucket, and only when its figures or its
quiet period may have changed since its last evaluation:
- results arrived (live or late), or an outage opened or closed (failures
  were excluded, the quiet period began or ended early);
- time alone: the oldest result leaves the window, a failure settles
  (starts to count), or the quiet period after an outage ends.
  `SloWindow.next_change` and `closed_at` say when, and a deadline is set.
Nothing else changes an SLO decision: a firing alert whose window slides is
covered by the second rule. Every other check would decide what it decided
last time, which `Evaluator.tick(full=True)` lets the tests check.
"""

from __future__ import annotations

import math
import zlib

from collector.alerting import texts
from collector.alerting.checkstate import CheckState
from collector.alerting.lifecycle import Lifecycle, key
from collector.alerting.model import Alert
from collector.alerting.policy import CheckPolicy
from collector.alerting.schedule import Deadlines
from collector.alerting.slo import error_level, latency_level

SLO_EVERY = 5.0
"""Seconds between SLO evaluations of a check: a 5-minute p95 needs no
finer clock, and each evaluation walks the whole window."""
SLO_ALERTS = frozenset({"LatencyHigh", "ErrorRatioHigh"})


class SloChecks:
    """SLO evaluation over the evaluator's check states (see the module)."""

    _checks: dict[str, CheckState]
    _policies: dict[str, CheckPolicy]
    _slo_fresh: set[str]
    """Checks whose SLO figures changed (a result, an outage) since their
    last SLO evaluation."""
    _slo_at: Deadlines[str]
    """When time alone changes a check's SLO figures."""
    _slo_prev: float
    """The previous tick: SLO buckets begin at the first tick in them."""
    _changed: set[str]
    alerts: Lifecycle

    def _slo_due(self, now: float) -> list[str]:
        """The checks whose SLO is evaluated at this tick (see the module)."""
        prev, self._slo_prev = self._slo_prev, now
        due, later = [], []
        for name in [*self._slo_fresh, *self._slo_at.due(now)]:
            if name not in self._policies:
                continue
            current = bucket(name, now)
            if current > bucket(name, prev):
                due.append(name)
            else:  # this bucket's evaluation is past: the next one
                later.append((name, (current + 1) * SLO_EVERY - _phase(name)))
        self._slo_fresh.clear()
        for name, at in later:
            self._slo_at.earlier(name, at)
        return list(dict.fromkeys(due))

    def _slo_step(self, name: str, now: float) -> list[Alert]:
        policy, state = self._policies[name], self._checks[name]
        alerts = self._slo(policy, state, now)
        slo = policy.slo
        firing = (
            key("LatencyHigh", name) in self.alerts or key("ErrorRatioHigh", name) in self.alerts
        )
        state.slo_hot = math.inf if firing else state.window.hot_until(slo.p95_warning, slo.window)
        if now >= state.slo_hot:  # nothing in the window can start one: nothing to wait for
            self._slo_at.discard(name)
            return alerts
        at = state.window.next_change(now, slo.window, policy.settle)
        if now - state.closed_at < slo.window:
            at = min(at, state.closed_at + slo.window)
        if at < math.inf:
            self._slo_at.set(name, at)
        else:
            self._slo_at.discard(name)
        return alerts

    def _slo(self, policy: CheckPolicy, state: CheckState, now: float) -> list[Alert]:
        state.window.prune(now, policy.slo.window)
        stats = state.window.stats(now, policy.settle, policy.slo.min_samples)
        # A window that holds an outage says nothing new: an SLO alert does
        # not start during an outage or until the window has slid past it
        # (the outage was paged; its symptoms are not news after its
        # resolve). One already firing still resolves or changes level.
        quiet = (
            state.incident is not None
            or (state.backfill is not None and state.backfill.failing is not None)  # replaying
            or now - state.closed_at < policy.slo.window
        )
        alerts: list[Alert] = []
        if stats.p95 is not None:  # too few results say nothing either way
            level = latency_level(stats.p95, policy.slo)
            alert = texts.latency(policy, state.host, stats, level, now)
            alerts += self._set_level(key("LatencyHigh", policy.name), alert, now, quiet)
        if stats.error_ratio is not None:
            level = error_level(stats.error_ratio, policy.slo)
            alert = texts.error_ratio(policy, state.host, stats, level, now)
            alerts += self._set_level(key("ErrorRatioHigh", policy.name), alert, now, quiet)
        firing = key("LatencyHigh", policy.name) in self.alerts
        if alerts or firing or key("ErrorRatioHigh", policy.name) in self.alerts:
            self._changed.add(policy.name)  # its window is saved while one fires
        return alerts

    def _set_level(self, k: str, alert: Alert | None, now: float, quiet: bool) -> list[Alert]:
        """Fire `alert`, resolve the current one, or swap them when the
        severity changed (severity is a label, so it is a new alert); when
        `quiet`, nothing new starts."""
        current = self.alerts.get(k)
        if current is not None and alert is not None and current.severity == alert.severity:
            return []
        if quiet and current is None:
            return []
        alerts = self.alerts.resolve(k, now, texts.level_changed(current, alert)) if current else []
        return alerts + (self.alerts.fire(k, alert) if alert is not None else [])


def _phase(check: str) -> float:
    """A check's offset in the `SLO_EVERY` cycle, from its name (stable
    across restarts), so SLO evaluations spread over the ticks."""
    return (zlib.crc32(check.encode()) % 1000) * SLO_EVERY / 1000


def bucket(check: str, at: float) -> float:
    """The `SLO_EVERY` bucket of a check that `at` falls in."""
    if at == float("-inf"):
        return at
    return math.floor((at + _phase(check)) / SLO_EVERY)
