"""The closed set of failure reasons a probe can report.

A probe never raises for a failed target: it maps library exceptions to one
of these values in a single function and returns it inside the result;
`common.faults` says which fault becomes which reason, for every probe.
The members mirror the proto enum `vantage.v1.FailureReason`; a test keeps
the two in step.
"""

from __future__ import annotations

from enum import StrEnum

from vantage.v1 import vantage_pb2 as pb

_PREFIX = "FAILURE_REASON_"


class FailureReason(StrEnum):
    """Why a probe failed. `NONE` is success."""

    NONE = "none"
    DNS_NXDOMAIN = "dns_nxdomain"
    DNS_TIMEOUT = "dns_timeout"
    DNS_ERROR = "dns_error"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECT_ERROR = "connect_error"
    TLS_HANDSHAKE = "tls_handshake"
    TLS_VERIFY = "tls_verify"
    TLS_HOSTNAME = "tls_hostname"
    TLS_EXPIRED = "tls_expired"
    TLS_EXPIRING = "tls_expiring"
    TLS_VERSION = "tls_version"
    HTTP_STATUS = "http_status"
    PROTOCOL_ERROR = "protocol_error"
    REDIRECT_LOOP = "redirect_loop"
    ASSERTION = "assertion"
    TIMEOUT = "timeout"
    CONFIG = "config"
    INTERNAL = "internal"
    DNS_REFUSED = "dns_refused"
    BODY_TOO_LARGE = "body_too_large"
    INVALID_URL = "invalid_url"

    def to_proto(self) -> pb.FailureReason.ValueType:
        """The proto enum value for this reason."""
        if self is FailureReason.NONE:
            return pb.FAILURE_REASON_UNSPECIFIED
        return pb.FailureReason.Value(_PREFIX + self.name)

    @classmethod
    def from_proto(cls, value: int) -> FailureReason:
        """The reason for a proto enum value; unknown values map to INTERNAL.

        A dict lookup: the collector calls this for every result it ingests.
        """
        return _BY_PROTO.get(value, cls.INTERNAL)


_BY_PROTO: dict[int, FailureReason] = {reason.to_proto(): reason for reason in FailureReason}
