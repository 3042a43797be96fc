"""The evaluator: probe results in, alert events out. Pure: no I/O, no clock;
every method takes `now` (unix seconds, the collector's clock).

It emits an `Alert` only on a transition: firing once, resolved once. What
it watches, per check (see `CheckPolicy`):

- **Outage** (`CheckDown`): a quorum of the check's *live* regions is down
  (`regions.py`: down after N consecutive failures, up after M successes).
  A `dns` check whose regions fail on `assertion` or `dns_nxdomain` raises
  `DnsMismatch` instead, and an `email_auth` check `EmailAuthFailing`: same
  confirmation and quorum as an outage (one sick resolver must not page), but
  named for what was found, with the failed assertions in the text.
- **Stale region** (`AgentDown`, warning, one per agent and region, `sight.py`): no result
  for 2 x interval + grace. A stale region does not vote; when every region
  of a check is stale the alert says the problem is ours, and no outage fires.
- **SLO** (`LatencyHigh`, `ErrorRatioHigh`) over a sliding window (`slo.py`).
  Failures that belong to an outage never count towards the error ratio.
- **Certificate expiry** (`CertExpiring`, `certs.py`): one notice per serial.

What a result or a tick does to a check's own outage, flap and certificate
alerts is in `transitions.py`; the SLO pass in `slochecks.py`; stale regions
and agents in `sight.py`; what is saved and restored across a restart in
`saving.py`. This module holds the state and the passes.

**Cost.** `observe_all` is O(results) and `tick` is O(what changed), not
O(checks): stale regions come from deadlines (`sight.StaleIndex`), an
outage is looked at again only when a region's state or staleness changed,
flap damping only for flapping checks, and the SLO only where its figures
can have changed (the rule is in `_slo_due`). `tick(full=True)` walks every
check through the same steps; tests hold the two to the same alerts.

`tls_expiring` results count as successes here: the site still works, and
`CertExpiring` is the one notice about it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any

from collector.alerting.checkstate import CheckState, failure_of
from collector.alerting.deploys import Deploys
from collector.alerting.lifecycle import Lifecycle
from collector.alerting.model import Alert
from collector.alerting.policy import CheckPolicy
from collector.alerting.regions import RegionState, Transition
from collector.alerting.saving import Saving
from collector.alerting.schedule import Deadlines
from collector.alerting.sight import Assignments, Sight, StaleIndex
from collector.alerting.slochecks import FreshChecks, SloChecks, bucket
from collector.alerting.transitions import Transitions
from collector.model import Sample
from collector.stats.series import counts_as_success

__all__ = ["CheckPolicy", "Evaluator"]

_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reload:
    """What a new config changes (`Evaluator.plan`)."""

    policies: dict[str, CheckPolicy]
    changed: list[CheckPolicy]
    """New checks, and checks whose policy differs."""
    removed: list[str]
    fastest: float
    """The smallest `stale_after`."""


class Evaluator(Sight, SloChecks, Transitions, Saving):
    """Holds detection state for every check; see the module docstring."""

    def __init__(
        self, policies: Iterable[CheckPolicy] = (), *, now: float, deploys: Deploys | None = None
    ) -> None:
        self.deploys = deploys or Deploys()
        """Deploy records; the API handler calls `deploys.record(...)`."""
        self._policies: dict[str, CheckPolicy] = {}
        self._checks: dict[str, CheckState] = {}
        self.alerts = Lifecycle()
        """Every alert this evaluator fires (see `lifecycle.py`)."""
        self._started_at = self._connected_at = now
        """Start, and when an agent was last known connected (see `_blind`)."""
        self._index = StaleIndex()
        self.assignments = Assignments()
        self._heard_in: set[str] = set()
        self._config_version = 0
        self._sight_memo: dict[str, object] = {}
        self._silent_keys: set[str] = set()
        self._blind_list: list[str] = []
        self._fastest = math.inf
        self._recheck: set[str] = set()
        """Checks whose outage state `tick` must look at again."""
        self._flapping: set[str] = set()
        """Checks with `flap.since` set: the only ones that can settle."""
        self._slo_fresh = FreshChecks()
        """Checks whose SLO figures changed (a result, an outage) since their
        last SLO evaluation."""
        self._slo_at: Deadlines[str] = Deadlines()
        """When time alone changes a check's SLO figures (see `_slo_due`)."""
        self._slo_prev = float("-inf")
        """The previous tick: SLO buckets begin at the first tick in them."""
        self._changed: set[str] = set()
        """Checks changed materially since `take_changes` (see there)."""
        self._removed: set[str] = set()
        self.set_policies(policies, now)

    def set_policies(self, policies: Iterable[CheckPolicy], now: float) -> list[Alert]:
        """Apply a new config at once. Alerts of removed checks resolve;
        checks whose policy is unchanged are not touched."""
        return [a for alerts in self.apply(self.plan(policies), now) for a in alerts]

    def plan(self, policies: Iterable[CheckPolicy]) -> Reload:
        """What a new config changes. Read-only, so it may run in a thread
        while the event loop goes on (reloads are applied one at a time)."""
        new = {p.name: p for p in policies}
        old, checks = self._policies, self._checks
        return Reload(
            policies=new,
            changed=[p for p in new.values() if old.get(p.name) != p or p.name not in checks],
            removed=[name for name in list(checks) if name not in new],
            fastest=min((p.stale_after for p in new.values()), default=math.inf),
        )

    def apply(self, plan: Reload, now: float, chunk: int = 1000) -> Iterator[list[Alert]]:
        """Apply `plan`, `chunk` checks at a time, yielding each part's alerts:
        the caller may let the event loop run in between. Each check moves
        to its new policy whole, so results and ticks in between see every
        check under its old or its new policy, never a mix."""
        for start in range(0, len(plan.removed), chunk):
            alerts = []
            for name in plan.removed[start : start + chunk]:
                self._policies.pop(name, None)
                alerts += self._forget(name, now)
            yield alerts
        for start in range(0, len(plan.changed), chunk):
            for policy in plan.changed[start : start + chunk]:
                self._adopt(policy, now)
                self._policies[policy.name] = policy
            yield []
        self._policies = dict(plan.policies)
        self._fastest = plan.fastest
        self._config_version += 1

    def _adopt(self, policy: CheckPolicy, now: float) -> None:
        """Take a new or changed policy: regions added or dropped, stale
        deadlines restarted (`stale_after` may have changed), and the
        outage and SLO state looked at again on the next tick."""
        name = policy.name
        state = self._checks.get(name)
        if state is None:  # no row until it has something to keep: a restart makes it anew
            state = self._checks[name] = CheckState()
        regions = {r: state.regions.get(r) or RegionState(since=now) for r in policy.regions}
        gone = [r for r in state.regions if r not in regions]
        for r in gone:
            self.assignments.move(name, r, state.regions[r].agent_id, None)
        self._index.forget(name, gone)
        for r, region in regions.items():
            if r not in state.regions:
                self.assignments.move(name, r, None, region.agent_id)
            self._index.watch(name, r, region, policy.stale_after)
        state.regions = regions
        state.host = policy.host or ""
        state.slo_hot = math.inf  # the SLO thresholds may have changed
        self._recheck.add(name)
        self._slo_fresh.add(name)

    def observe(self, obs: Sample, now: float) -> list[Alert]:
        """Take one result; return the alerts it fires or resolves."""
        return self.observe_all((obs,), now)

    def observe_all(self, results: Iterable[Sample], now: float) -> list[Alert]:
        """Take results in order; return the alerts they fire or resolve.

        The collector's hot path, one pass per batch: a result that changes
        no state costs a few lookups and counters.
        """
        alerts: list[Alert] = []
        policies, checks, stale = self._policies, self._checks, self._index.stale
        fresh, changed, heard = self._slo_fresh, self._changed, self._heard_in
        for obs in results:
            policy = policies.get(obs.check)
            if policy is None:
                continue  # a result for a check no longer configured
            name = policy.name
            state = checks[name]
            region = state.regions.get(obs.region)
            if region is None:
                continue  # or for a region the check no longer runs in
            if now - obs.at > policy.late_after:  # a backfill: history, not the present
                fresh.add(name)
                alerts += self._late(policy, state, obs, now)
                continue
            if obs.cert_serial is not None or (obs.release and obs.release != state.release):
                alerts += self._news(policy, state, obs, now)  # rare: most results carry neither
            heard.add(obs.region)
            if region.agent_id != obs.agent_id or name in stale:
                self._moved(policy, region, obs)
            # Count it in its region and the SLO window.
            if counts_as_success(obs):
                if region.failures or region.down or region.in_incident or not region.last_seen:
                    changed.add(name)  # a streak broken, recovering, or the first: worth a save
                state.window.add(obs.at, obs.region, True, obs.duration)
                if obs.duration > policy.slo.p95_warning:
                    state.slo_hot = max(state.slo_hot, obs.at + policy.slo.window)
                if now < state.slo_hot:  # else a fast success cannot start an SLO alert
                    fresh.add(name)
                transition = region.record(None, now, obs.agent_id, policy.thresholds)
            else:
                transition = self._failed(policy, state, region, obs, now)
            if transition is not None:  # the region went down or came back up
                alerts += self._outage(policy, state, now, state.stale(policy, now))
        return alerts

    def _news(self, policy: CheckPolicy, state: CheckState, obs: Sample, now: float) -> list[Alert]:
        """A result with a new release (a deploy, or the first result) or a
        certificate."""
        release = obs.release
        if release and release != state.release:
            state.release = release
            self.deploys.observe_release(policy.service, release, obs.at)
        return self._certs(policy, state, obs, now) if obs.cert_serial is not None else []

    def _failed(
        self, policy: CheckPolicy, state: CheckState, region: RegionState, obs: Sample, now: float
    ) -> Transition | None:
        """A failing live result, into its region and the SLO window."""
        self._changed.add(policy.name)
        self._slo_fresh.add(policy.name)
        # Only a streak's first failure is kept: the facts of the others
        # are not gathered.
        failure = region.first_failure or failure_of(obs)
        transition = region.record(failure, now, obs.agent_id, policy.thresholds)
        if state.incident is not None:
            region.in_incident = True
        state.window.add(obs.at, obs.region, False, obs.duration, region.in_incident)
        if not region.in_incident:
            state.slo_hot = max(state.slo_hot, obs.at + policy.slo.window)
        return transition

    def _moved(self, policy: CheckPolicy, region: RegionState, obs: Sample) -> None:
        """A result from another agent than the last, or for a stale region."""
        name = policy.name
        if region.agent_id != obs.agent_id:
            self.assignments.move(name, obs.region, region.agent_id, obs.agent_id)
            self._changed.add(name)
        stale = self._index.stale.get(name)
        if stale and obs.region in stale:  # back from silence
            self._index.watch(name, obs.region, region, policy.stale_after)
            self._recheck.add(name)

    def tick(self, now: float, connected: int | None = None, *, full: bool = False) -> list[Alert]:
        """Time passes: stale regions, SLO windows, outages that quorum
        changes open or close. Call every few seconds. `connected` is the
        number of agents with an open stream (None: not known).

        Only what can have changed is looked at: the outage of checks whose
        stale regions changed, the flap state of flapping checks, the SLO of
        checks `_slo_due` names. `full` (tests only) looks at every check
        through the same steps, the reference the incremental pass must match.
        """
        return [a for part in self.tick_steps(now, connected, full=full) for a in part]

    def tick_steps(
        self, now: float, connected: int | None = None, *, full: bool = False, chunk: int = 100
    ) -> Iterator[list[Alert]]:
        """`tick` in parts, each part's alerts yielded: outages and SLO
        evaluations `chunk` checks at a time, so a caller can let the event
        loop run in between (in a flood every check has new results: 50,000
        SLO evaluations held the loop ~0.2 s, and 500 of them up to ~0.1 s
        on a busy machine). Results that arrive in between are the next
        tick's news; each check is evaluated whole. Deadlines are taken
        a slice at a time (`StaleIndex.advance_steps`)."""
        went: set[str] = set()
        for changed in self._index.advance_steps(now, self._lookup):
            went |= changed
            yield []
        self._recheck |= went
        self._changed |= went  # `last_seen` of a region gone silent is worth a save
        recheck, self._recheck = self._recheck, set()
        prev = self._slo_prev
        slo = self._slo_due(now)
        stale: Mapping[str, AbstractSet[str]] = self._index.stale
        flapping: Iterable[str] = list(self._flapping)
        if full:
            stale = {
                n: s for n, p in self._policies.items() if (s := self._checks[n].stale(p, now))
            }
            recheck = set(self._policies)
            flapping = [n for n in self._policies if self._checks[n].flapping]
            slo = [n for n in self._policies if bucket(n, now) > bucket(n, prev)]
        alerts: list[Alert] = []
        rechecked = list(recheck & self._policies.keys())
        for start in range(0, len(rechecked), chunk):
            yield [
                a
                for name in rechecked[start : start + chunk]
                if name in self._policies  # not removed by a reload meanwhile
                for a in self._outage(
                    self._policies[name], self._checks[name], now, stale.get(name, _NONE)
                )
            ]
        for name in flapping:
            if name in self._policies:
                alerts += self._settled(self._policies[name], self._checks[name], now)
        sparse = {n: set(s) for n, s in stale.items()} if full else self._index.stale
        version = None if full else self._index.version
        # Apart: each took 25-40 ms of the loop while a fleet fell silent.
        yield alerts + self._agents(now, sparse, version)
        yield self._blind(now, sparse, connected, version)
        for start in range(0, len(slo), chunk):
            yield [
                a
                for name in slo[start : start + chunk]
                if name in self._policies  # not removed by a reload meanwhile
                for a in self._slo_step(name, now)
            ]

    def _lookup(self, name: str) -> tuple[CheckPolicy, CheckState] | None:
        policy = self._policies.get(name)
        return None if policy is None else (policy, self._checks[name])

    def active_alerts(self) -> list[Alert]:
        """Every alert firing now."""
        return self.alerts.active()

    def region_states(self, check: str, now: float) -> dict[str, str]:
        """Each region of a check as the alerts see it: `down`, `stale`, `up`,
        or `pending` before its first result (the status page shows these)."""
        state, policy = self._checks.get(check), self._policies.get(check)
        if state is None or policy is None:
            return {}
        stale = state.stale(policy, now)

        def word(region: str, s: RegionState) -> str:
            if s.down:
                return "down"
            if region in stale:
                return "stale"
            return "pending" if s.last_seen is None else "up"

        return {region: word(region, s) for region, s in state.regions.items()}

    def incidents(self) -> list[dict[str, Any]]:
        """Open incidents, as JSON-able dicts (see `Incident.to_dict`)."""
        return [s.incident.to_dict() for s in self._checks.values() if s.incident is not None]

    def _forget(self, check: str, now: float) -> list[Alert]:
        state = self._checks.pop(check, None)
        if state is not None:
            for r, region in state.regions.items():
                self.assignments.move(check, r, region.agent_id, None)
            self._index.forget(check, list(state.regions))
        self._slo_at.discard(check)
        self._slo_fresh.discard(check)
        for names in (self._flapping, self._recheck, self._changed):
            names.discard(check)
        self._removed.add(check)
        note = "the check was removed from the config"
        alerts = self.alerts.forget(check, now, note)
        incident = state.incident if state is not None else None
        if incident is None:
            return alerts
        # The open incident is closed too, with the note, so its record does
        # not stay open for ever (the store keeps what `details` carries).
        incident.resolved_at = now
        closed = {"incident": {**incident.to_dict(), "resolution": note}}
        return [
            replace(a, details=closed) if a.labels.get("alertname") == incident.alertname else a
            for a in alerts
        ]
