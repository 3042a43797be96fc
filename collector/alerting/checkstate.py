"""What the evaluator holds per check, and the pure helpers that read it:
region states, the open incident, the SLO window, certificates, flap
damping and the backfill replay, with their JSON form for restarts."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from collector.alerting.backfill import Backfill
from collector.alerting.certs import CertTracker
from collector.alerting.flapping import FlapState
from collector.alerting.policy import CheckPolicy
from collector.alerting.regions import Failure, Incident, RegionState
from collector.alerting.slo import SloWindow
from collector.model import Sample

_FINDING_REASONS = frozenset({"assertion", "dns_nxdomain"})
_FINDING_ALERTS = {"dns": "DnsMismatch", "email_auth": "EmailAuthFailing"}


@dataclass(slots=True)
class CheckState:
    """The detection state of one check. What most checks never use
    (certificates, flap changes, a backfill) is None until first needed:
    at 50,000 checks each empty one cost ~10 MB."""

    regions: dict[str, RegionState] = field(default_factory=dict)
    incident: Incident | None = None
    window: SloWindow = field(default_factory=SloWindow)
    certs: CertTracker | None = None
    """None until the first certificate."""
    host: str = ""
    release: str = ""
    """The release header of the last result (not persisted): deploys are
    looked up only when it changes."""
    flap: FlapState | None = None
    """None until the first outage-state change."""
    closed_at: float = float("-inf")
    """When the last outage closed (not persisted): SLO alerts wait a
    window before they may start again."""
    backfill: Backfill | None = None
    """Late results replayed apart (not persisted: a backfill is short);
    None until the first late result."""
    slo_hot: float = float("inf")
    """Until when the SLO window may hold what starts an SLO alert (a slow
    success, a failure that counts; inf while one fires or until the first
    evaluation): after it, a fast success needs no SLO evaluation (not
    persisted)."""

    def stale(self, policy: CheckPolicy, now: float) -> set[str]:
        """The regions silent for longer than the policy's `stale_after`."""
        return {r for r, s in self.regions.items() if s.is_stale(now, policy.stale_after)}

    @property
    def flapping(self) -> bool:
        """Flap-damped now."""
        return self.flap is not None and self.flap.since is not None

    def to_dict(self, slo: bool = False) -> dict[str, Any]:
        """JSON-able form; `slo`: with the SLO window (see below)."""
        data = {
            "regions": {r: s.to_dict() for r, s in self.regions.items()},
            "incident": None if self.incident is None else self.incident.to_dict(),
            "certs": {} if self.certs is None else self.certs.to_dict(),
            "host": self.host,
            "flap": (self.flap or FlapState()).to_dict(),
        }
        # The SLO window is kept only while an SLO alert fires (`slo`): a
        # fresh window after a restart would resolve it early. Any other
        # window is rebuilt from fresh results, and until it holds
        # `min_samples` no SLO alert changes.
        if slo:
            data["slo"] = self.window.to_state()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckState:
        """Inverse of `to_dict`."""
        incident, flap = data.get("incident"), data.get("flap") or {}
        return cls(
            regions={r: RegionState.from_dict(s) for r, s in data["regions"].items()},
            incident=None if incident is None else Incident.from_dict(incident),
            certs=CertTracker.from_dict(data["certs"]) if data.get("certs") else None,
            host=data.get("host", ""),
            flap=FlapState.from_dict(flap) if flap.get("changes") or flap.get("since") else None,
            window=SloWindow.from_state(data["slo"]) if data.get("slo") else SloWindow(),
        )


def failure_of(obs: Sample) -> Failure:
    """The facts of a failing result that an incident keeps."""
    return Failure(
        at=obs.at,
        reason=obs.reason,
        message=obs.message,
        request_id=obs.request_id,
        agent_id=obs.agent_id,
        release=obs.release,
        findings=obs.failed_assertions,
    )


def failing(state: CheckState, stale: AbstractSet[str]) -> dict[str, Failure]:
    """The live down regions and the first failure of each one's streak."""
    return {
        name: region.first_failure
        for name, region in state.regions.items()
        if region.down and region.first_failure is not None and name not in stale
    }


def outage_name(check_type: str, failures: Iterable[Failure]) -> str:
    """`DnsMismatch`/`EmailAuthFailing` when every failure is a finding about
    the records; `CheckDown` when the check could not run (a dead resolver)."""
    reasons = {f.reason for f in failures}
    if check_type in _FINDING_ALERTS and reasons <= _FINDING_REASONS:
        return _FINDING_ALERTS[check_type]
    return "CheckDown"
