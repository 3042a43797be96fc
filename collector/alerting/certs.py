"""Certificate expiry per check: one notice per certificate serial and
severity, and a resolve when a renewed certificate is seen. Pure.

Tools that alert "certificate expires in N days" every day train people to
ignore them. Here a serial is notified once at `warning` (below `warning_days`)
and once more if it reaches `critical` (below `critical_days`, or expired; the
warning stays open beside it), and never again: a serial seen again after it
was superseded (regions behind a load balancer see old and new certificates
during a rollout) stays quiet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.alerting.model import Severity
from common.config.base import CertExpirySpec

DAY = 86400.0
_KEEP = 10  # serials remembered per check: more than any rollout shows at once
_DEFAULTS = CertExpirySpec.model_fields  # the defaults live in the config model
_RANK: dict[Severity | None, int] = {None: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True)
class CertPolicy:
    """Expiry thresholds in days, from the check's `cert_expiry:` settings."""

    warning_days: float = _DEFAULTS["warning_days"].default
    critical_days: float = _DEFAULTS["critical_days"].default


@dataclass
class CertRecord:
    """What we know of one certificate serial of a check."""

    serial: str
    not_after: float
    level: Severity | None = None
    """The highest severity already notified for this serial."""
    superseded: bool = False


@dataclass(frozen=True)
class CertEvent:
    """A change for the evaluator to turn into alerts."""

    record: CertRecord
    firing: bool
    level: Severity | None = None
    """On a firing event: its severity. A resolve ends every level."""
    renewed_by: CertRecord | None = None
    """On a resolve: the newer certificate that replaced this one."""


def cert_level(not_after: float, now: float, policy: CertPolicy) -> Severity | None:
    """The severity an expiry date deserves today."""
    days = (not_after - now) / DAY
    if days < policy.critical_days:
        return Severity.CRITICAL
    return Severity.WARNING if days < policy.warning_days else None


class CertTracker:
    """The certificates one check has shown, by serial."""

    def __init__(self, records: dict[str, CertRecord] | None = None) -> None:
        self._records = records or {}

    def knows(self, serial: str) -> bool:
        """Whether `serial` was seen (and is still remembered)."""
        return serial in self._records

    def observe(
        self, serial: str, not_after: float, now: float, policy: CertPolicy
    ) -> list[CertEvent]:
        """Note a certificate seen by a probe; return what changed."""
        record = self._records.get(serial)
        if record is None:
            record = self._records[serial] = CertRecord(serial, not_after)
            self._forget_oldest()
        if record.superseded:
            return []
        events = self._supersede_older(record)
        level = cert_level(not_after, now, policy)
        if _RANK[level] > _RANK[record.level]:
            events.append(CertEvent(record, firing=True, level=level))
            record.level = level
        return events

    def _supersede_older(self, newer: CertRecord) -> list[CertEvent]:
        events = []
        for old in self._records.values():
            if old.superseded or old.not_after >= newer.not_after:
                continue
            old.superseded = True
            if old.level is not None:
                events.append(CertEvent(old, firing=False, renewed_by=newer))
        return events

    def _forget_oldest(self) -> None:
        if len(self._records) > _KEEP:
            oldest = min(self._records.values(), key=lambda r: r.not_after)
            del self._records[oldest.serial]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            s: [r.not_after, None if r.level is None else str(r.level), r.superseded]
            for s, r in self._records.items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CertTracker:
        """Inverse of `to_dict`."""
        return cls(
            {
                s: CertRecord(s, float(na), None if lv is None else Severity(lv), bool(sup))
                for s, (na, lv, sup) in data.items()
            }
        )
