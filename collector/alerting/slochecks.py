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
from collections.abc import Iterable

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
    _slo_fresh: FreshChecks
    _slo_at: Deadlines[str]
    """When time alone changes a check's SLO figures."""
    _slo_prev: float
    """The previous tick: SLO buckets begin at the first tick in them."""
    _changed: set[str]
    alerts: Lifecycle

    def _slo_due(self, now: float) -> list[str]:
        """The checks whose SLO is evaluated at this tick (see the module):
        O(what is due), since fresh checks wait by their phase."""
        prev, self._slo_prev = self._slo_prev, now
        due = self._slo_fresh.take(prev, now)
        for name in self._slo_at.due(now):
            if bucket(name, now) > bucket(name, prev):
                due.append(name)
            else:  # this bucket's evaluation is past: the next one
                self._slo_fresh.add(name)
        return [name for name in dict.fromkeys(due) if name in self._policies]

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


_PHASES = 1000
"""A check's phase is one of this many steps of the `SLO_EVERY` cycle."""


def _step_of(check: str) -> int:
    return zlib.crc32(check.encode()) % _PHASES


def _phase(check: str) -> float:
    """A check's offset in the `SLO_EVERY` cycle, from its name (stable
    across restarts), so SLO evaluations spread over the ticks."""
    return _step_of(check) * SLO_EVERY / _PHASES


def bucket(check: str, at: float) -> float:
    """The `SLO_EVERY` bucket of a check that `at` falls in."""
    return _bucket(_phase(check), at)


def _bucket(phase: float, at: float) -> float:
    if at == float("-inf"):
        return at
    return math.floor((at + phase) / SLO_EVERY)


class FreshChecks:
    """Checks whose SLO figures changed (a result, an outage) since their
    last SLO evaluation, kept by phase: `take` finds the checks whose
    bucket began between two ticks by looking at the phases, not at every
    fresh check (in a flood every check is fresh at every tick)."""

    __slots__ = ("_by_step",)

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._by_step: dict[int, set[str]] = {}
        for name in names:
            self.add(name)

    def add(self, name: str) -> None:
        """Mark `name` fresh."""
        step = _step_of(name)
        names = self._by_step.get(step)
        if names is None:
            names = self._by_step[step] = set()
        names.add(name)

    def discard(self, name: str) -> None:
        """Unmark `name` (a removed check)."""
        names = self._by_step.get(_step_of(name))
        if names is not None:
            names.discard(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._by_step.get(_step_of(name), ())

    def __len__(self) -> int:
        return sum(map(len, self._by_step.values()))

    def take(self, prev: float, now: float) -> list[str]:
        """Unmark and return the fresh checks whose bucket began after
        `prev`, up to `now`."""
        out: list[str] = []
        for step in [
            step
            for step in self._by_step
            if _bucket(step * SLO_EVERY / _PHASES, now) > _bucket(step * SLO_EVERY / _PHASES, prev)
        ]:
            out += self._by_step.pop(step)
        return out
