"""What results and time do to a check's own alerts: an outage opens and
closes (`CheckDown` and its kin), flap damping (`CheckFlapping`), late
results replayed into an outage notice, and certificate notices
(`CertExpiring`). Pure; mixed into the `Evaluator`, whose state it reads
and marks (`_changed` for the store, `_slo_fresh` for the SLO pass).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from collector.alerting import texts
from collector.alerting.backfill import Backfill
from collector.alerting.certs import CertEvent, CertTracker
from collector.alerting.checkstate import CheckState, failing, failure_of, outage_name
from collector.alerting.deploys import Deploys
from collector.alerting.flapping import FlapState
from collector.alerting.lifecycle import Lifecycle, key
from collector.alerting.model import Alert
from collector.alerting.policy import CheckPolicy
from collector.alerting.regions import Incident, outage_holds
from collector.alerting.slochecks import FreshChecks
from collector.model import Sample
from collector.stats.series import counts_as_success


class Transitions:
    """A check's outage, flap and certificate alerts (see the module)."""

    alerts: Lifecycle
    deploys: Deploys
    _changed: set[str]
    """Checks changed materially since `take_changes`."""
    _slo_fresh: FreshChecks
    _flapping: set[str]
    """Checks with `flap.since` set: the only ones that can settle."""

    # --- outages --------------------------------------------------------

    def _outage(
        self, policy: CheckPolicy, state: CheckState, now: float, stale: AbstractSet[str]
    ) -> list[Alert]:
        holds = outage_holds(state.regions, stale, policy.quorum, state.incident is not None)
        if holds and state.incident is None:
            return self._open(policy, state, now, stale)
        if holds is False and state.incident is not None:
            return self._close(policy, state, now)
        if state.incident is not None:  # regions that fail later join the record
            regions = state.incident.regions
            for name, failure in failing(state, stale).items():
                if name not in regions:
                    regions[name] = failure
                    self._changed.add(policy.name)
        return []

    def _open(
        self, policy: CheckPolicy, state: CheckState, now: float, stale: AbstractSet[str]
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
        self._changed.add(policy.name)
        self._slo_fresh.add(policy.name)
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
        self._changed.add(policy.name)
        self._slo_fresh.add(policy.name)
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
        if state.backfill is None:
            state.backfill = Backfill()
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
        self._changed.add(policy.name)
        if state.flap is None:
            state.flap = FlapState()
        if not state.flap.change(now, policy.flap):
            return []
        self._flapping.add(policy.name)
        self.alerts.damp(policy.name)
        alert = texts.flapping(policy, state.host, len(state.flap.changes), down, now)
        return self.alerts.fire(key("CheckFlapping", policy.name), alert)

    def _settled(self, policy: CheckPolicy, state: CheckState, now: float) -> list[Alert]:
        """A flapping check quiet for `settle`: one notice of its final state."""
        if state.flap is None or not state.flap.settled(now, policy.flap):
            return []
        self._flapping.discard(policy.name)
        self._changed.add(policy.name)
        note = texts.settled(state.incident is not None, now)
        alerts = self.alerts.resolve(key("CheckFlapping", policy.name), now, note)
        return alerts + self.alerts.undamp(policy.name, now, note["resolution"])

    def flapping(self) -> set[str]:
        """Checks whose alerts are flap-damped now."""
        return self.alerts.damped()

    # --- certificates ---------------------------------------------------

    def _certs(
        self, policy: CheckPolicy, state: CheckState, obs: Sample, now: float
    ) -> list[Alert]:
        if obs.cert_serial is None or obs.cert_not_after is None:
            return []
        if state.certs is None:
            state.certs = CertTracker()
        known = state.certs.knows(obs.cert_serial)
        events = state.certs.observe(obs.cert_serial, obs.cert_not_after, now, policy.cert)
        if events or not known:
            self._changed.add(policy.name)
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
