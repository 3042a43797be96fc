"""The failure vocabulary: which fault becomes which reason, for every probe.

A fault is what went wrong, named once whatever library noticed it: the
same wrong-hostname certificate is `HOSTNAME_MISMATCH` whether the `http`,
`tls` or `tcp` probe met it, so it carries one reason everywhere. Reasons
drive alert labels and inhibition, so a probe never picks a reason for a
shared fault itself: it names the fault and `REASONS` decides.
`agent.probe_kit.faults.classify` maps library exceptions to faults.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from common.reasons import FailureReason as R


class Fault(StrEnum):
    """Something that went wrong, independent of the probe that saw it."""

    NXDOMAIN = "the name does not exist"
    NO_ANSWER = "the DNS server did not answer in time"
    DNS_REFUSED = "the DNS server refused the query"
    DNS_FAILURE = "the DNS server failed (SERVFAIL or another error)"
    REFUSED = "the port refused the connection"
    CONNECT_TIMEOUT = "the connection was not accepted in time"
    UNREACHABLE = "the address cannot be reached"
    TLS_PROTOCOL = "the TLS handshake failed"
    HOSTNAME_MISMATCH = "the certificate is not valid for the name"
    CERT_EXPIRED = "the certificate has expired"
    CERT_UNTRUSTED = "the certificate chain is not trusted"
    TLS_OLD_VERSION = "the server speaks an older TLS version than allowed"
    PROTOCOL_ERROR = "the server broke the application protocol"
    INVALID_URL = "the URL cannot be requested"
    BODY_TOO_LARGE = "the body is larger than max_body_bytes"
    TIMEOUT = "the check ran out of time after connecting"
    MISSING_SETTING = "a setting the check needs is missing on the agent"


REASONS: MappingProxyType[Fault, R] = MappingProxyType(
    {
        Fault.NXDOMAIN: R.DNS_NXDOMAIN,
        Fault.NO_ANSWER: R.DNS_TIMEOUT,
        Fault.DNS_REFUSED: R.DNS_REFUSED,
        Fault.DNS_FAILURE: R.DNS_ERROR,
        Fault.REFUSED: R.CONNECT_REFUSED,
        Fault.CONNECT_TIMEOUT: R.CONNECT_TIMEOUT,
        Fault.UNREACHABLE: R.CONNECT_ERROR,
        Fault.TLS_PROTOCOL: R.TLS_HANDSHAKE,
        Fault.HOSTNAME_MISMATCH: R.TLS_HOSTNAME,
        Fault.CERT_EXPIRED: R.TLS_EXPIRED,
        Fault.CERT_UNTRUSTED: R.TLS_VERIFY,
        Fault.TLS_OLD_VERSION: R.TLS_VERSION,
        Fault.PROTOCOL_ERROR: R.PROTOCOL_ERROR,
        Fault.INVALID_URL: R.INVALID_URL,
        Fault.BODY_TOO_LARGE: R.BODY_TOO_LARGE,
        Fault.TIMEOUT: R.TIMEOUT,
        Fault.MISSING_SETTING: R.CONFIG,
    }
)
"""Fault -> the one reason every probe reports for it."""


def reason(fault: Fault) -> R:
    """The failure reason for `fault`."""
    return REASONS[fault]
