"""Library exceptions -> faults -> failure reasons, for what probes share.

    BaseException
    ├── resolve.ResolveFailed          the fault its lookup found
    ├── ssl.SSLCertVerificationError   HOSTNAME_MISMATCH|CERT_EXPIRED|CERT_UNTRUSTED (verify code)
    ├── ssl.SSLError                   TLS_PROTOCOL
    ├── socket.gaierror                NXDOMAIN (EAI_NONAME/EAI_NODATA) | DNS_FAILURE
    ├── DnsAnswerError (rcode)         DNS_REFUSED (REFUSED) | NXDOMAIN | DNS_FAILURE
    ├── dns.exception.Timeout          NO_ANSWER
    ├── ConnectionRefusedError         REFUSED
    ├── TimeoutError                   CONNECT_TIMEOUT before the connection, TIMEOUT after it
    ├── OSError                        UNREACHABLE before the connection, PROTOCOL_ERROR after it
    ├── MissingValue                   MISSING_SETTING
    ├── InvalidUrl                     INVALID_URL
    ├── ProtocolViolation              PROTOCOL_ERROR
    └── BodyTooLarge                   BODY_TOO_LARGE

Each probe's `classify(exc)` handles its own library's exceptions (the HTTP client,
grpc, ...) and hands the rest, or their unwrapped cause, to `classify` here.
"""

from __future__ import annotations

import socket
import ssl

from common.faults import Fault, reason
from common.reasons import FailureReason
from common.template import MissingValue

Failure = tuple[FailureReason, str]
"""What a probe's error mapper returns: the reason and a short message."""

# OpenSSL's X509_V_ERR_* codes.
_VERIFY_FAULTS = {
    10: Fault.CERT_EXPIRED,  # CERT_HAS_EXPIRED
    62: Fault.HOSTNAME_MISMATCH,  # HOSTNAME_MISMATCH
    64: Fault.HOSTNAME_MISMATCH,  # IP_ADDRESS_MISMATCH: the same fault for an IP target
}
_NO_SUCH_NAME = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)})


class InvalidUrl(ValueError):
    """A URL, after its templates were filled in, that cannot be requested."""


class ProtocolViolation(Exception):
    """The server answered, but not in the protocol the probe speaks."""


class BodyTooLarge(Exception):
    """A response body passed the check's `max_body_bytes`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than max_body_bytes ({limit} bytes): not judged")
        self.limit = limit


class DnsAnswerError(Exception):
    """A DNS server answered with an rcode that carries no data."""

    def __init__(self, name: str, rcode: str) -> None:
        super().__init__(f"{name}: the server answered {rcode}")
        self.name, self.rcode = name, rcode


# OpenSSL's reasons for "no TLS version both sides allow": the server's
# alert, or the client's own refusal of the version the server picked. Our
# client speaks up to TLS 1.3, so either means a server older than allowed.
_VERSION_REASONS = frozenset(
    {
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "UNSUPPORTED_PROTOCOL",
        "WRONG_SSL_VERSION",
        "NO_PROTOCOLS_AVAILABLE",
    }
)


def failure(fault: Fault, message: str) -> Failure:
    """The (reason, message) for a fault, from the shared table."""
    return reason(fault), message


def classify(exc: BaseException, connected: bool = True) -> Failure:
    """The failure for a shared exception; `connected` says whether the
    transport was up when it happened (a timeout before that is a connect
    timeout). Unknown exceptions are `internal`, naming their type."""
    failed = getattr(exc, "failure", None)  # resolve.ResolveFailed: mapped already
    if failed is not None:
        return failed  # type: ignore[no-any-return]
    if isinstance(exc, ssl.SSLCertVerificationError):
        fault = _VERIFY_FAULTS.get(exc.verify_code, Fault.CERT_UNTRUSTED)
        return failure(fault, f"certificate verify failed: {exc.verify_message}")
    if isinstance(exc, ssl.SSLError):
        fault = Fault.TLS_OLD_VERSION if exc.reason in _VERSION_REASONS else Fault.TLS_PROTOCOL
        return failure(fault, f"TLS handshake failed: {exc.reason or exc}")
    if isinstance(exc, socket.gaierror):
        return _gai_failure(exc)
    if isinstance(exc, DnsAnswerError):
        return _rcode_failure(exc)
    if type(exc).__module__.startswith("dns."):
        return _dnspython_failure(exc)
    return _os_failure(exc, connected)


def _os_failure(exc: BaseException, connected: bool) -> Failure:
    simple = {
        MissingValue: Fault.MISSING_SETTING,
        InvalidUrl: Fault.INVALID_URL,
        ProtocolViolation: Fault.PROTOCOL_ERROR,
        BodyTooLarge: Fault.BODY_TOO_LARGE,
        ConnectionRefusedError: Fault.REFUSED,
    }
    for kind, fault in simple.items():
        if isinstance(exc, kind):
            return failure(fault, str(exc) or fault.value)
    if isinstance(exc, TimeoutError):
        if connected:
            return failure(Fault.TIMEOUT, "timed out")
        return failure(Fault.CONNECT_TIMEOUT, "connect timed out")
    if isinstance(exc, OSError):
        detail = exc.strerror or str(exc) or type(exc).__name__
        if connected:  # a reset or EOF mid-conversation
            return failure(Fault.PROTOCOL_ERROR, f"connection lost: {detail}")
        return failure(Fault.UNREACHABLE, f"connect failed: {detail}")
    return FailureReason.INTERNAL, f"{type(exc).__name__}: {exc}"


def _gai_failure(exc: socket.gaierror) -> Failure:
    if exc.errno in _NO_SUCH_NAME:
        return failure(Fault.NXDOMAIN, f"no such name ({exc.strerror})")
    # glibc folds REFUSED, SERVFAIL and no answer into EAI_AGAIN: say so
    # rather than guess a timeout. A configured nameserver tells them apart.
    return failure(Fault.DNS_FAILURE, f"cannot resolve: {exc.strerror}")


def _rcode_failure(exc: DnsAnswerError) -> Failure:
    fault = {"REFUSED": Fault.DNS_REFUSED, "NXDOMAIN": Fault.NXDOMAIN}.get(
        exc.rcode, Fault.DNS_FAILURE
    )
    return failure(fault, str(exc))


def _dnspython_failure(exc: BaseException) -> Failure:
    # Imported here: an agent that runs only HTTP checks never loads dnspython.
    import dns.exception  # noqa: PLC0415
    import dns.resolver  # noqa: PLC0415

    if isinstance(exc, dns.exception.Timeout):
        return failure(Fault.NO_ANSWER, "no answer before the timeout")
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return failure(Fault.NXDOMAIN, "no such name")
    if isinstance(exc, dns.resolver.NoResolverConfiguration):
        return failure(Fault.MISSING_SETTING, "no server set and no system resolver configured")
    return failure(Fault.DNS_FAILURE, str(exc) or type(exc).__name__)
