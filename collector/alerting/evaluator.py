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

`tls_expiring` results count as successes here: the site still works, and
`CertExpiring` is the one notice about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from collector.alerting import texts
from collector.alerting.certs import CertEvent
from collector.alerting.checkstate import CheckState, failing, failure_of, outage_name
from collector.alerting.deploys import Deploys
from collector.alerting.lifecycle import Lifecycle, key
from collector.alerting.model import Alert
from collector.alerting.policy import CheckPolicy
from collector.alerting.regions import Incident, RegionState, outage_holds
from collector.alerting.sight import Sight
from collector.alerting.slo import error_level, latency_level
from collector.model import Sample
from collector.stats.series import counts_as_success

__all__ = ["CheckPolicy", "Evaluator"]

STATE_VERSION = 1
"""Bumped when the shape of `export_state` changes; older state is ignored."""
SLO_EVERY = 5.0
"""Seconds between SLO evaluations of a check: a 5-minute p95 needs no
finer clock, and each evaluation walks the whole window."""
_SLO_ALERTS = frozenset({"LatencyHigh", "ErrorRatioHigh"})


class Evaluator(Sight):
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
        self.set_policies(policies, now)

    def set_policies(self, policies: Iterable[CheckPolicy], now: float) -> list[Alert]:
        """Apply a new config. Alerts of removed checks resolve."""
        new = {p.name: p for p in policies}
        alerts = [a for name in self._checks.keys() - new.keys() for a in self._forget(name, now)]
        for policy in new.values():
            state = self._checks.setdefault(policy.name, CheckState())
            state.regions = {
                r: state.regions.get(r) or RegionState(since=now) for r in policy.regions
            }
            state.host = policy.host or ""
        self._policies = new
        return alerts

    def observe(self, obs: Sample, now: float) -> list[Alert]:
        """Take one result; return the alerts it fires or resolves."""
        return self.observe_all((obs,), now)

    def observe_all(self, results: Iterable[Sample], now: float) -> list[Alert]:
        """Take results in order; return the alerts they fire or resolve.

        The collector's hot path, one pass per batch: a result that changes
        no state costs a few lookups and counters.
        """
        alerts: list[Alert] = []
        policies, checks = self._policies, self._checks
        for obs in results:
            policy = policies.get(obs.check)
            if policy is None:
                continue  # a result for a check no longer configured
            state = checks[policy.name]
            region = state.regions.get(obs.region)
            if region is None:
                continue  # or for a region the check no longer runs in
            if now - obs.at > policy.late_after:  # a backfill: history, not the present
                alerts += self._late(policy, state, obs, now)
                continue
            release = obs.release
            if release and release != state.release:  # a deploy, or the first result
                state.release = release
                self.deploys.observe_release(policy.service, release, obs.at)
            if obs.cert_serial is not None:  # most results carry no certificate
                alerts += self._certs(policy, state, obs, now)
            # Count it in its region and the SLO window.
            if counts_as_success(obs):
                state.window.add(obs.at, obs.region, True, obs.duration)
                transition = region.record(None, now, obs.agent_id, policy.thresholds)
            else:
                # Only a streak's first failure is kept: the facts of the
                # others are not gathered.
                failure = region.first_failure or failure_of(obs)
                transition = region.record(failure, now, obs.agent_id, policy.thresholds)
                if state.incident is not None:
                    region.in_incident = True
                state.window.add(obs.at, obs.region, False, obs.duration, region.in_incident)
            if transition is not None:  # the region went down or came back up
                alerts += self._outage(policy, state, now, state.stale(policy, now))
        return alerts

    def tick(self, now: float, connected: int | None = None) -> list[Alert]:
        """Time passes: stale regions, SLO windows, outages that quorum
        changes open or close. Call every few seconds. `connected` is the
        number of agents with an open stream (None: not known)."""
        alerts: list[Alert] = []
        stale: dict[str, set[str]] = {}
        for policy in self._policies.values():
            state = self._checks[policy.name]
            stale[policy.name] = state.stale(policy, now)
            alerts += self._outage(policy, state, now, stale[policy.name])
            if state.flap.since is not None:
                alerts += self._settled(policy, state, now)
            if now - state.slo_at >= SLO_EVERY:
                state.slo_at = now
                alerts += self._slo(policy, state, now)
        return alerts + self._agents(now, stale) + self._blind(now, stale, connected)

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

    def export_state(self) -> dict[str, Any]:
        """Everything needed to carry on after a restart, JSON-able."""
        slo = {a.labels.get("check") for a in self.alerts.active() if a.name in _SLO_ALERTS}
        return {
            "version": STATE_VERSION,
            "checks": {n: state.to_dict(n in slo) for n, state in self._checks.items()},
            "lifecycle": self.alerts.export(),
            "deploys": self.deploys.to_dict(),
        }

    def load_state(self, data: Mapping[str, Any], now: float) -> list[Alert]:
        """Restore `export_state` output after a restart, under the policies
        already set. Silence is counted from `now`, so agents get time to
        reconnect before they look stale. Returns resolves for alerts of
        checks that are gone from the config."""
        if data.get("version") != STATE_VERSION:
            return []
        self._checks = {n: CheckState.from_dict(s) for n, s in data["checks"].items()}
        self.alerts.load(data.get("lifecycle") or {"active": data.get("active", {})})
        self.deploys.load(data.get("deploys", {}))
        for state in self._checks.values():
            for region in state.regions.values():
                region.since = now
        return self.set_policies(list(self._policies.values()), now)

    # --- results --------------------------------------------------------

    # --- outages --------------------------------------------------------

    def _outage(
        self, policy: CheckPolicy, state: CheckState, now: float, stale: set[str]
    ) -> list[Alert]:
        holds = outage_holds(state.regions, stale, policy.quorum, state.incident is not None)
        if holds and state.incident is None:
            return self._open(policy, state, now, stale)
        if holds is False and state.incident is not None:
            return self._close(policy, state, now)
        if state.incident is not None:  # regions that fail later join the record
            for name, failure in failing(state, stale).items():
                state.incident.regions.setdefault(name, failure)
        return []

    def _open(
        self, policy: CheckPolicy, state: CheckState, now: float, stale: set[str]
    ) -> list[Alert]:
        down = failing(state, stale)
        first = min(down.values(), key=lambda f: f.at)
        attribution = self.deploys.attribute(policy.service, first.at, first.release)
        incident = Incident(
            check=policy.name,
            alertname=outage_name(policy.check_type, down.values()),
            started_at=first.at,
            confirmed_at=now,
            regions=down,
            release=attribution.version,
            attribution=attribution.text,
        )
        state.incident = incident
        # The failures that confirmed the outage are part of it: take them
        # out of the error ratio now, or they would page a second time.
        for name, region in state.regions.items():
            if region.first_failure is not None:
                region.in_incident = True
                state.window.exclude_since(name, region.first_failure.at)
        alerts = self._flapped(policy, state, now, down=True)
        alert = texts.outage(policy, state.host, incident)
        return self.alerts.fire(key(incident.alertname, policy.name), alert) + alerts

    def _close(self, policy: CheckPolicy, state: CheckState, now: float) -> list[Alert]:
        incident = state.incident
        assert incident is not None
        incident.resolved_at = state.closed_at = now
        state.incident = None
        alerts = self._flapped(policy, state, now, down=False)
        k = key(incident.alertname, policy.name)
        notes = texts.recovered(policy, incident)
        return self.alerts.resolve(k, now, notes, {"incident": incident.to_dict()}) + alerts

    def _late(self, policy: CheckPolicy, state: CheckState, obs: Sample, now: float) -> list[Alert]:
        """A late result: into the SLO window by its probe time and through
        the check's backfill replay; one notice for an outage it closes."""
        success = counts_as_success(obs)
        state.window.add(obs.at, obs.region, success, obs.duration)
        failure = None if success else failure_of(obs)
        outage = state.backfill.record(
            obs.region, failure, obs.at, policy.thresholds, policy.quorum
        )
        if outage is None:
            return []
        # Its symptoms are not news either: SLO alerts stay quiet for one
        # window after it, as after a live outage (see `_slo`).
        state.closed_at = max(state.closed_at, now)
        return self.alerts.notify(texts.late_outage(policy, state.host, outage, now))

    # --- flap damping ---------------------------------------------------

    def _flapped(
        self, policy: CheckPolicy, state: CheckState, now: float, down: bool
    ) -> list[Alert]:
        """Count an outage-state change; the one that starts flapping damps
        the check and fires `CheckFlapping` (see `flapping.py`)."""
        if not state.flap.change(now, policy.flap):
            return []
        self.alerts.damp(policy.name)
        alert = texts.flapping(policy, state.host, len(state.flap.changes), down, now)
        return self.alerts.fire(key("CheckFlapping", policy.name), alert)

    def _settled(self, policy: CheckPolicy, state: CheckState, now: float) -> list[Alert]:
        """A flapping check quiet for `settle`: one notice of its final state."""
        if not state.flap.settled(now, policy.flap):
            return []
        note = texts.settled(state.incident is not None, now)
        alerts = self.alerts.resolve(key("CheckFlapping", policy.name), now, note)
        return alerts + self.alerts.undamp(policy.name, now, note["resolution"])

    def flapping(self) -> set[str]:
        """Checks whose alerts are flap-damped now."""
        return self.alerts.damped()

    # --- SLO ------------------------------------------------------------

    def _slo(self, policy: CheckPolicy, state: CheckState, now: float) -> list[Alert]:
        state.window.prune(now, policy.slo.window)
        stats = state.window.stats(now, policy.settle, policy.slo.min_samples)
        # A window that holds an outage says nothing new: an SLO alert does
        # not start during an outage or until the window has slid past it
        # (the outage was paged; its symptoms are not news after its
        # resolve). One already firing still resolves or changes level.
        quiet = (
            state.incident is not None
            or state.backfill.failing is not None  # a late outage being replayed
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

    # --- certificates ---------------------------------------------------

    def _certs(
        self, policy: CheckPolicy, state: CheckState, obs: Sample, now: float
    ) -> list[Alert]:
        if obs.cert_serial is None or obs.cert_not_after is None:
            return []
        events = state.certs.observe(obs.cert_serial, obs.cert_not_after, now, policy.cert)
        return [a for event in events for a in self._cert_event(policy, state, event, now)]

    def _cert_event(
        self, policy: CheckPolicy, state: CheckState, event: CertEvent, now: float
    ) -> list[Alert]:
        prefix = key("CertExpiring", policy.name, event.record.serial)
        if event.firing and event.level is not None:
            alert = texts.cert_expiring(policy, state.host, event.record, event.level, now)
            return self.alerts.fire(key(prefix, event.level), alert)
        note = texts.cert_renewed(policy, event.record, event.renewed_by)
        return [
            a for k in self.alerts.keys(prefix + "|") for a in self.alerts.resolve(k, now, note)
        ]

    def _forget(self, check: str, now: float) -> list[Alert]:
        state = self._checks.pop(check, None)
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
