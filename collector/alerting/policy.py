"""What the evaluator needs to know about a check (`CheckPolicy`), built
from the config model by `policies.py`. Results come in as the collector's
one result type, `collector.model.Sample`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from collector.alerting.backfill import late_after
from collector.alerting.certs import CertPolicy
from collector.alerting.flapping import FlapPolicy
from collector.alerting.regions import Quorum
from collector.alerting.slo import SloPolicy
from common.config import Defaults

_DEFAULTS = Defaults.model_fields  # the defaults live in the config model


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckPolicy:
    """What the evaluator needs to know about one check."""

    name: str
    check_type: str
    interval: float
    regions: tuple[str, ...]
    # Defaults are the config model's (common.config.Defaults), named, not
    # restated: production builds policies from validated checks anyway.
    retry_after: float = _DEFAULTS["retry_after"].default
    failure_threshold: int = _DEFAULTS["failure_threshold"].default
    success_threshold: int = _DEFAULTS["success_threshold"].default
    quorum: Quorum = _DEFAULTS["quorum"].default
    labels: Mapping[str, str] = field(default_factory=dict)
    """Copied onto the check's alerts; `severity` sets the outage severity."""
    slo: SloPolicy = field(default_factory=SloPolicy)
    cert: CertPolicy = field(default_factory=CertPolicy)
    flap: FlapPolicy = field(default_factory=FlapPolicy)
    stale_grace: float = _DEFAULTS["stale_grace"].default
    runbook_url: str | None = None
    host: str | None = None
    """The target host, when the config knows it (else taken from results)."""

    @property
    def service(self) -> str:
        """The service deploys are recorded for: label `service`, or the name."""
        return self.labels.get("service") or self.name

    @property
    def thresholds(self) -> tuple[int, int]:
        """(failure_threshold, success_threshold), as RegionState.record takes them."""
        return self.failure_threshold, self.success_threshold

    @property
    def late_after(self) -> float:
        """A result older than this on arrival is late (see `backfill.py`)."""
        return late_after(self.interval)

    @property
    def stale_after(self) -> float:
        """Silence longer than this makes a region stale."""
        return 2 * self.interval + self.stale_grace

    @property
    def settle(self) -> float:
        """The time an outage needs to be confirmed in every region; a failure
        younger than this may still become part of one."""
        return self.interval + (self.failure_threshold - 1) * self.retry_after + self.stale_grace
