"""Domain values the collector works with, converted once from protobuf at
the gRPC edge (`from_proto`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb


@dataclass(frozen=True, slots=True)
class Sample:
    """One probe result as the collector sees it."""

    check: str
    check_type: str
    region: str
    agent_id: str
    started_at: float
    duration: float
    success: bool
    reason: FailureReason
    message: str = ""
    request_id: str = ""
    release: str = ""
    retry: bool = False
    status_code: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    tls_not_after: float | None = None
    tls_serial: str = ""
    tls_version: str = ""
    dns_rcode: str = ""
    failed_assertions: tuple[str, ...] = ()

    @property
    def ended_at(self) -> float:
        """When the probe finished."""
        return self.started_at + self.duration


def _tls(result: pb.Result) -> pb.TlsDetails | None:
    if result.HasField("tls"):
        return result.tls
    if result.HasField("http") and result.http.HasField("tls"):
        return result.http.tls
    return None


def from_proto(result: pb.Result, agent_id: str, region: str) -> Sample:
    """Convert a wire result; agent and region come from the authenticated
    stream's Hello, never from the result itself."""
    tls = _tls(result)
    return Sample(
        check=result.check,
        check_type=result.check_type,
        region=region,
        agent_id=agent_id,
        started_at=result.started_at,
        duration=result.duration_seconds,
        success=result.success,
        reason=FailureReason.from_proto(result.reason),
        message=result.message,
        request_id=result.request_id,
        release=result.release,
        retry=result.retry,
        status_code=result.http.status_code if result.HasField("http") else 0,
        phases=dict(result.phase_seconds),
        tls_not_after=tls.not_after if tls is not None and tls.not_after else None,
        tls_serial=tls.serial if tls is not None else "",
        tls_version=tls.version if tls is not None else "",
        dns_rcode=result.dns.rcode if result.HasField("dns") else "",
        failed_assertions=tuple(
            f"{a.name}: {a.message}" if a.message else a.name for a in result.assertions if not a.ok
        ),
    )
