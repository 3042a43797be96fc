"""The evaluator's inputs: one probe result (`Observation`) and what it
needs to know about a check (`CheckPolicy`). Plain frozen values, built by
the collector's edges (the gRPC servicer and the config loader)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from collector.alerting.certs import CertPolicy
from collector.alerting.regions import Quorum
from collector.alerting.slo import SloPolicy


class ObservationLike(Protocol):
    """What the evaluator reads from a result. `Observation` is the plain
    implementation; the collector passes its samples, which expose the same
    attributes, so the hot path converts nothing."""

    @property
    def check(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def success(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def release(self) -> str: ...
    @property
    def duration(self) -> float: ...
    @property
    def cert_not_after(self) -> float | None: ...
    @property
    def cert_serial(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def failed_assertions(self) -> tuple[str, ...]: ...


@dataclass(kw_only=True, slots=True)
class Observation:
    """One probe result, as the gRPC edge converts it.

    Treated as immutable. Not `frozen`: one is built for every result on the
    collector's hot path, and a frozen dataclass costs several times more to
    construct than a slotted one.
    """

    check: str
    region: str
    agent_id: str
    at: float
    success: bool
    reason: str = "none"
    message: str = ""
    request_id: str = ""
    release: str = ""
    duration: float = 0.0
    check_type: str = ""
    retry: bool = False
    """A fast-confirmation probe; it counts like any other result."""
    cert_not_after: float | None = None
    cert_serial: str | None = None
    host: str | None = None
    """The target host: lets an NXDOMAIN on it inhibit its HTTP/TLS alerts."""
    failed_assertions: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CheckPolicy:
    """What the evaluator needs to know about one check."""

    name: str
    check_type: str
    interval: float
    regions: tuple[str, ...]
    retry_after: float = 10.0
    failure_threshold: int = 2
    success_threshold: int = 2
    quorum: Quorum = "majority"
    labels: Mapping[str, str] = field(default_factory=dict)
    """Copied onto the check's alerts; `severity` sets the outage severity."""
    slo: SloPolicy = field(default_factory=SloPolicy)
    cert: CertPolicy = field(default_factory=CertPolicy)
    stale_grace: float = 30.0
    runbook_url: str | None = None
    host: str | None = None
    """The target host, when the config knows it (else taken from results)."""

    @cached_property
    def service(self) -> str:
        """The service deploys are recorded for: label `service`, or the name."""
        return self.labels.get("service") or self.name

    @cached_property
    def thresholds(self) -> tuple[int, int]:
        """(failure_threshold, success_threshold), as RegionState.record takes them."""
        return self.failure_threshold, self.success_threshold

    @property
    def stale_after(self) -> float:
        """Silence longer than this makes a region stale."""
        return 2 * self.interval + self.stale_grace

    @property
    def settle(self) -> float:
        """The time an outage needs to be confirmed in every region; a failure
        younger than this may still become part of one."""
        return self.interval + (self.failure_threshold - 1) * self.retry_after + self.stale_grace
