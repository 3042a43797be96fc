"""Domain values the collector works with, converted once from protobuf at
the gRPC edge (`Sample(result, agent_id, region)`).

Ingest is the collector's hot path, so a Sample copies only what statistics
and the evaluator read for every result (the certificate serial included);
the details that only the last result of a series shows (phases, messages,
status) are read from the protobuf message when asked for.
"""

from __future__ import annotations

from common.reasons import FailureReason
from common.wire import phases_of
from vantage.v1 import vantage_pb2 as pb

_SUCCESS = FailureReason.NONE
"""Read once: an enum member costs a descriptor call each time it is named."""


class Sample:
    """One probe result as the collector sees it."""

    __slots__ = (
        "agent_id", "at", "cert_serial", "check", "duration", "raw", "reason", "region",
        "release", "started_at", "success", "tls",
    )  # fmt: skip

    def __init__(self, raw: pb.Result, agent_id: str, region: str) -> None:
        """Convert a wire result; agent and region come from the authenticated
        stream's Hello, never from the result itself."""
        self.raw = raw
        self.agent_id = agent_id
        self.region = region
        self.check: str = raw.check
        started_at: float = raw.started_at
        duration: float = raw.duration_seconds
        self.started_at = started_at
        self.duration = duration
        self.at = started_at + duration
        """When the probe finished (the evaluator's name for it)."""
        success: bool = raw.success
        self.success = success
        # A success has no failure reason: the field is not read.
        self.reason = _SUCCESS if success else FailureReason.from_proto(raw.reason)
        self.release: str = raw.release
        """The target's release, from its release header."""
        # The evaluator reads these for every result: plain attributes, set
        # here, are cheaper than properties.
        tls = raw.tls if raw.HasField("tls") else None
        self.tls = tls
        """TLS facts from a tls probe or an https request."""
        self.cert_serial: str | None = (tls.serial or None) if tls is not None else None
        """The leaf certificate's serial, None without TLS."""

    host = None
    """Unknown here: the evaluator takes the host from the check's policy."""

    @property
    def check_type(self) -> str:
        """The probe type: `http`, `tls`, `dns`, ..."""
        return self.raw.check_type

    @property
    def message(self) -> str:
        """The short failure message (already redacted by the agent)."""
        return self.raw.message

    @property
    def request_id(self) -> str:
        """The request id the probe sent."""
        return self.raw.request_id

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
        """Phase timings by blackbox_exporter name: the phases the probe reached."""
        return phases_of(self.raw.phases)

    @property
    def tls_not_after(self) -> float | None:
        """The earliest certificate expiry in the chain, unix seconds."""
        tls = self.tls
        return tls.not_after if tls is not None and tls.not_after else None

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
    def failed_assertions(self) -> tuple[str, ...]:
        """`name: message` of every failed assertion."""
        return tuple(
            f"{a.name}: {a.message}" if a.message else a.name
            for a in self.raw.assertions
            if not a.ok
        )
