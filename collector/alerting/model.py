"""Alert values shared by the evaluator, the router and the notifiers.

Pure: no I/O. Fingerprints are deterministic (sha256 of the sorted labels),
so two collectors evaluating the same stream produce the same alert identity
and an Alertmanager cluster can deduplicate them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Any


class Severity(StrEnum):
    """How urgent an alert is; routes match on it."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertState(StrEnum):
    """An alert event either fires or resolves."""

    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Deterministic identity of an alert: 16 hex chars of sha256."""
    text = "\x1f".join(f"{k}\x1e{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Alert:
    """One alert event (firing or resolved) produced by the evaluator.

    `labels` identify it (alertname, check, severity, service, region, ...);
    `annotations` explain it (summary, description, runbook_url, release).
    `details` carries structured context for receivers that show it: the
    regions that failed, their reasons, the first failing request id.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: AlertState
    starts_at: float
    ends_at: float | None = None
    details: Mapping[str, object] = field(default_factory=dict)
    repeat: bool = True
    """False: notify once per firing, never again on the route's
    repeat_interval (a certificate notice is not news every four hours)."""
    notice: bool = False
    """A one-shot notice (an outage reported late): sent once as it is,
    never held as firing, never resolved."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    @property
    def name(self) -> str:
        """The alertname label."""
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        """The severity label (default warning)."""
        return self.labels.get("severity", Severity.WARNING)

    @cached_property
    def fingerprint(self) -> str:
        """See `fingerprint()`; computed once per alert (the dispatcher asks
        for it many times per pass)."""
        return fingerprint(self.labels)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form, for persisting alert state (`details` must be JSON-able)."""
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "state": str(self.state),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "details": dict(self.details),
            "repeat": self.repeat,
            "notice": self.notice,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Inverse of `to_dict`."""
        ends_at = data.get("ends_at")
        return cls(
            labels={str(k): str(v) for k, v in data["labels"].items()},
            annotations={str(k): str(v) for k, v in data["annotations"].items()},
            state=AlertState(data["state"]),
            starts_at=float(data["starts_at"]),
            ends_at=None if ends_at is None else float(ends_at),
            details=dict(data.get("details") or {}),
            repeat=bool(data.get("repeat", True)),
            notice=bool(data.get("notice", False)),
        )


@dataclass(frozen=True)
class Notification:
    """What the router hands one receiver: a group of alerts sent together.

    `group_key` is stable for the group (route + group_by label values), so
    receivers with their own dedup (PagerDuty's dedup_key) can use it.
    """

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]
    news: frozenset[str] | None = None
    """Fingerprints of the alerts that newly fire since the group's last
    notification (the dispatcher knows); None: every firing alert is new."""

    @property
    def fired(self) -> tuple[Alert, ...]:
        """Alerts that started firing since the group's last notification."""
        return tuple(
            a
            for a in self.alerts
            if a.state is AlertState.FIRING and (self.news is None or a.fingerprint in self.news)
        )

    @property
    def resolved(self) -> tuple[Alert, ...]:
        """Alerts that resolved since the group's last notification."""
        return tuple(a for a in self.alerts if a.state is AlertState.RESOLVED)

    @property
    def ongoing(self) -> tuple[Alert, ...]:
        """Alerts that fired before and still fire: context, not news."""
        fired = {id(a) for a in self.fired}
        return tuple(a for a in self.alerts if a.state is AlertState.FIRING and id(a) not in fired)

    @property
    def lead(self) -> Alert:
        """The alert a message leads with: the first new one, else the first
        resolved one, else (a reminder) the first still firing."""
        return (self.fired or self.resolved or self.alerts)[0]

    @property
    def state(self) -> AlertState:
        """Firing if any alert in the group fires."""
        if any(a.state is AlertState.FIRING for a in self.alerts):
            return AlertState.FIRING
        return AlertState.RESOLVED
