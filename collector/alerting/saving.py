"""What the evaluator saves and how it carries on after a restart: the
saved form (`export_state`, or for a store that keeps state by row, `rows`
of the checks and the lifecycle's own `take_rows`), which checks changed since the last save
(`take_changes`), and `load_state`. Pure; mixed into the `Evaluator`, whose
state it reads and rebuilds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from collector.alerting.checkstate import CheckState
from collector.alerting.deploys import Deploys
from collector.alerting.lifecycle import Lifecycle
from collector.alerting.model import Alert
from collector.alerting.policy import CheckPolicy
from collector.alerting.schedule import Deadlines
from collector.alerting.sight import Assignments, StaleIndex
from collector.alerting.slochecks import SLO_ALERTS, FreshChecks

STATE_VERSION = 1
"""Bumped when the shape of `export_state` changes; older state is ignored."""


class Saving:
    """The evaluator's saved form and its restore (see the module)."""

    alerts: Lifecycle
    deploys: Deploys
    assignments: Assignments
    _checks: dict[str, CheckState]
    _policies: dict[str, CheckPolicy]
    _index: StaleIndex
    _sight_memo: dict[str, object]
    _slo_at: Deadlines[str]
    _heard_in: set[str]
    _started_at: float
    _flapping: set[str]
    _slo_fresh: FreshChecks
    _changed: set[str]
    """Checks changed materially since `take_changes` (see there)."""
    _removed: set[str]
    set_policies: Callable[[Iterable[CheckPolicy], float], list[Alert]]

    def export_state(self) -> dict[str, Any]:
        """Everything needed to carry on after a restart, JSON-able."""
        return {
            "version": STATE_VERSION,
            "lifecycle": self.alerts.export(),
            "deploys": self.deploys.to_dict(),
            "checks": self.rows(self._checks),
        }

    def rows(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The saved form of these checks (those configured)."""
        slo = {a.labels.get("check") for a in self.alerts.active() if a.name in SLO_ALERTS}
        checks = self._checks
        return {n: checks[n].to_dict(n in slo) for n in names if n in checks}

    def take_changes(self, most: int | None = None) -> tuple[set[str], set[str]]:
        """The checks changed materially since the last call, at most `most`
        of them (the rest wait for the next call: `changes_left`), and those
        removed; the caller saves them (`rows`), or hands them back with
        `keep_changes` when the save failed. Taking a few leaves the others
        where they are: after a flood 50,000 checks had changed, and taking
        them all to hand most back cost ~20 ms on every save.

        Material: anything a restart must not lose or reset: a failure, a
        broken or recovering streak (`failures`, `successes` below the
        success threshold), a transition, an incident, certificates, flap
        changes, a new agent, a region gone silent or back, and the SLO
        window of a check whose SLO alert fires (see `to_dict`). Not: a
        plain success on an up region. Its `last_seen` and `successes` are
        then saved with the check's next material change: after a restart
        silence counts from the restart (`since`), and `successes` is at or
        over the threshold either way, so nothing a decision reads differs.
        """
        removed, self._removed = self._removed, set()
        if most is None or len(self._changed) <= most:
            changed, self._changed = self._changed, set()
            return changed, removed
        pending = self._changed
        return {pending.pop() for _ in range(most)}, removed

    def changes_left(self) -> bool:
        """Whether changed checks wait to be taken."""
        return bool(self._changed)

    def keep_changes(self, changed: Iterable[str], removed: Iterable[str]) -> None:
        """Hand back what `take_changes` returned: it was not saved."""
        self._changed.update(n for n in changed if n in self._checks)
        self._removed.update(n for n in removed if n not in self._checks)

    def load_state(self, data: Mapping[str, Any], now: float) -> list[Alert]:
        """Restore `export_state` output after a restart, under the policies
        already set. Silence is counted from `now`, so agents get time to
        reconnect before they look stale. Returns resolves for alerts of
        checks that are gone from the config. `data` from a collector that
        kept every check in one blob is marked changed, to be saved by rows."""
        if data.get("version") != STATE_VERSION:
            return []
        self._checks = {n: CheckState.from_dict(s) for n, s in data["checks"].items()}
        self.alerts.load(data.get("lifecycle") or {"active": data.get("active", {})})
        self.deploys.load(data.get("deploys", {}))
        self._index.clear()
        self.assignments.clear()
        self._sight_memo.clear()
        self._slo_at.clear()
        self._heard_in.clear()
        for name, state in self._checks.items():
            for r, region in state.regions.items():
                region.since = now
                self.assignments.move(name, r, None, region.agent_id)
                if region.last_seen is not None and region.last_seen >= self._started_at:
                    self._heard_in.add(r)
        self._flapping = {n for n, s in self._checks.items() if s.flapping}
        self._slo_fresh = FreshChecks(n for n, s in self._checks.items() if len(s.window))
        self._changed = set(self._checks) if data.get("by_rows") is None else set()
        policies, self._policies = self._policies, {}
        return self.set_policies(policies.values(), now)
