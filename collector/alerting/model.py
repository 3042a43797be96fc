"""Alert values shared by the evaluator, the router and the notifiers.

Pure: no I/O. Fingerprints are deterministic (sha256 of the sorted labels),
so two collectors evaluating the same stream produce the same alert identity
and an Alertmanager cluster can deduplicate them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Mapping


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

    @property
    def fingerprint(self) -> str:
        """See `fingerprint()`."""
        return fingerprint(self.labels)


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

    @property
    def state(self) -> AlertState:
        """Firing if any alert in the group fires."""
        if any(a.state is AlertState.FIRING for a in self.alerts):
            return AlertState.FIRING
        return AlertState.RESOLVED
