"""Domain values the collector works with, converted once from protobuf at
the gRPC edge (`from_proto`).

Ingest is the collector's hot path, so a Sample copies only what statistics
and the evaluator read for every result; the details that only the last
result of a series shows (phases, TLS facts, messages) are read from the
protobuf message when asked for.
"""

from __future__ import annotations

from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb


class Sample:
    """One probe result as the collector sees it."""

    __slots__ = (
        "_tls", "agent_id", "at", "check", "check_type", "duration", "raw", "reason", "region",
        "started_at", "success",
    )  # fmt: skip

    def __init__(  # noqa: PLR0917  # built per result on the hot path: positional is cheapest
        self,
        check: str,
        check_type: str,
        region: str,
        agent_id: str,
        started_at: float,
        duration: float,
        success: bool,
        reason: FailureReason,
        raw: pb.Result | None = None,
    ) -> None:
        self.check = check
        self.check_type = check_type
        self.region = region
        self.agent_id = agent_id
        self.started_at = started_at
        self.duration = duration
        self.at = started_at + duration
        """When the probe finished (the evaluator's name for it)."""
        self.success = success
        self.reason = reason
        self.raw = raw if raw is not None else pb.Result()
        self._tls: pb.TlsDetails | bool | None = False  # False: not looked up yet

    host = None
    """Unknown here: the evaluator takes the host from the check's policy."""

    @property
    def message(self) -> str:
        """The short failure message (already redacted by the agent)."""
        return self.raw.message

    @property
    def request_id(self) -> str:
        """The request id the probe sent."""
        return self.raw.request_id

    @property
    def release(self) -> str:
        """The target's release, from its release header."""
        return self.raw.release

    @property
    def retry(self) -> bool:
        """Whether this was a fast re-check after a failure."""
        return self.raw.retry

    @property
    def status_code(self) -> int:
        """The HTTP status, 0 for other probes."""
        return self.raw.http.status_code if self.raw.HasField("http") else 0

    @property
    def phases(self) -> dict[str, float]:
        """Phase timings by blackbox_exporter name."""
        return dict(self.raw.phase_seconds)

    @property
    def tls(self) -> pb.TlsDetails | None:
        """TLS facts from a tls probe or an https request (looked up once)."""
        if self._tls is False:
            raw, kind = self.raw, self.check_type
            if kind == "http" and raw.http.HasField("tls"):
                self._tls = raw.http.tls
            elif kind == "tls" and raw.HasField("tls"):
                self._tls = raw.tls
            else:  # no other probe carries certificates
                self._tls = None
        return self._tls  # type: ignore[return-value]  # False was replaced above

    @property
    def tls_not_after(self) -> float | None:
        """The earliest certificate expiry in the chain, unix seconds."""
        tls = self.tls
        return tls.not_after if tls is not None and tls.not_after else None

    @property
    def tls_serial(self) -> str:
        """The leaf certificate's serial."""
        tls = self.tls
        return tls.serial if tls is not None else ""

    @property
    def tls_version(self) -> str:
        """The negotiated TLS version."""
        tls = self.tls
        return tls.version if tls is not None else ""

    @property
    def cert_not_after(self) -> float | None:
        """The evaluator's name for `tls_not_after`."""
        return self.tls_not_after

    @property
    def cert_serial(self) -> str | None:
        """The leaf certificate's serial, None without TLS."""
        return self.tls_serial or None

    @property
    def failed_assertions(self) -> tuple[str, ...]:
        """`name: message` of every failed assertion."""
        return tuple(
            f"{a.name}: {a.message}" if a.message else a.name
            for a in self.raw.assertions
            if not a.ok
        )


def from_proto(result: pb.Result, agent_id: str, region: str) -> Sample:
    """Convert a wire result; agent and region come from the authenticated
    stream's Hello, never from the result itself."""
    return Sample(
        result.check,
        result.check_type,
        region,
        agent_id,
        result.started_at,
        result.duration_seconds,
        result.success,
        FailureReason.from_proto(result.reason),
        result,
    )
