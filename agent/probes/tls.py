"""The `tls` probe: connect, handshake with SNI, verify, and judge the
certificate's expiry and the negotiated protocol version.

When the verifying handshake fails, a second handshake that verifies
nothing reads the certificate anyway, so a failed result still says which
certificate the server sent and, for a handshake refused over the protocol
version, which version the server speaks. Library errors become failure
reasons in `classify` only, by the shared table.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import time
import warnings
from datetime import UTC, datetime

from agent.probe_kit.base import Nameserver, ProbeContext, fail, new_result
from agent.probe_kit.certs import Peer, read_peer, record
from agent.probe_kit.faults import Failure, ProtocolViolation, failure
from agent.probe_kit.faults import classify as classify_shared
from agent.probe_kit.resolve import lookup, unresolved
from agent.probe_kit.starttls import negotiate
from common.config.tls import TlsCheck, TlsExpect
from common.faults import Fault
from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb

_MIN_VERSION = {
    "TLS1.0": ssl.TLSVersion.TLSv1,
    "TLS1.1": ssl.TLSVersion.TLSv1_1,
    "TLS1.2": ssl.TLSVersion.TLSv1_2,
    "TLS1.3": ssl.TLSVersion.TLSv1_3,
}
# Names as SSLObject.version() reports them, oldest first.
_VERSION_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_CONFIG_NAME = dict(zip(_VERSION_ORDER, _MIN_VERSION, strict=True))
_DAY = 86400.0
# Failures where the certificate or version may still be readable.
_DIAGNOSABLE = frozenset(
    {
        FailureReason.TLS_VERIFY,
        FailureReason.TLS_HOSTNAME,
        FailureReason.TLS_EXPIRED,
        FailureReason.TLS_HANDSHAKE,
        FailureReason.TLS_VERSION,
    }
)


def _allow_versions(context: ssl.SSLContext, min_version: str) -> None:
    version = _MIN_VERSION[min_version]
    if version >= ssl.TLSVersion.TLSv1_2:
        context.minimum_version = version
        return
    # Reaching old servers is the point here, so Python's deprecation
    # warning for TLS 1.0/1.1 is noise; OpenSSL 3 also refuses them above
    # security level 0.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
    context.set_ciphers("DEFAULT:@SECLEVEL=0")


@functools.lru_cache(maxsize=64)
def _verifying_context(ca_file: str | None, mtime: float, min_version: str) -> ssl.SSLContext:
    # Loading a CA store costs milliseconds, so contexts are shared; the
    # file's mtime is part of the key so an edited ca_file is reloaded.
    del mtime
    context = ssl.create_default_context(cafile=ca_file)
    _allow_versions(context, min_version)
    return context


@functools.cache
def _diagnostic_context() -> ssl.SSLContext:
    """Verifies nothing and allows every version: only for reading facts."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _allow_versions(context, "TLS1.0")
    return context


def _context(check: TlsCheck) -> ssl.SSLContext:
    """The verifying context; OSError or SSLError means a bad ca_file."""
    mtime = os.stat(check.ca_file).st_mtime if check.ca_file else 0.0
    return _verifying_context(check.ca_file, mtime, check.expect.min_version)


async def _handshake(
    check: TlsCheck, host: str, context: ssl.SSLContext, phases: pb.Phases
) -> Peer:
    """Connect and handshake; `phases` gets `connect` once connected and
    `tls` once the handshake is done."""
    port = check.address[1]
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        phases.connect = time.monotonic() - started
        if check.starttls:
            await negotiate(check.starttls, reader, writer)
        await writer.start_tls(context, server_hostname=check.sni)
        phases.tls = time.monotonic() - started - phases.connect
        return read_peer(writer.get_extra_info("ssl_object"))
    finally:
        # A probe has nothing to say after the handshake; waiting for the
        # peer's close_notify would only add latency.
        writer.transport.abort()


def classify(exc: BaseException, connected: bool = True) -> Failure:
    """The error mapper: socket and ssl errors, by the shared table. Once
    connected, the handshake is all this probe says: a reset or EOF then is
    a failed handshake, and a timeout a handshake timeout."""
    if connected and isinstance(exc, TimeoutError):
        return failure(Fault.TIMEOUT, "TLS handshake timed out")
    lost = isinstance(exc, ConnectionError) and not isinstance(exc, ConnectionRefusedError)
    if connected and lost and isinstance(exc, OSError):
        detail = exc.strerror or str(exc) or type(exc).__name__
        return failure(Fault.TLS_PROTOCOL, f"TLS handshake failed: {detail}")
    return classify_shared(exc, connected)


def _below(version: str, minimum: str) -> bool:
    """Whether a negotiated version is older than the configured minimum."""
    if version not in _VERSION_ORDER:
        return False
    return _VERSION_ORDER.index(version) < list(_MIN_VERSION).index(minimum)


async def probe(check: TlsCheck, ctx: ProbeContext) -> pb.Result:
    """Handshake with `check.target` and judge certificate and protocol."""
    result = new_result(check, ctx)
    started = time.monotonic()
    try:
        return await _probe(check, result, ctx.nameserver)
    finally:
        result.duration_seconds = time.monotonic() - started


async def _probe(check: TlsCheck, result: pb.Result, nameserver: Nameserver | None) -> pb.Result:
    try:
        context = _context(check)
    except OSError as exc:  # ssl.SSLError included: a file that is not PEM
        # The file lives on the agent, so only the agent can find it bad.
        why = getattr(exc, "strerror", None) or str(exc)
        return fail(result, FailureReason.CONFIG, f"ca_file {check.ca_file}: {why}")
    started = time.monotonic()
    host = check.address[0]
    try:
        async with asyncio.timeout(check.timeout):
            host = await lookup(check.address[0], nameserver, result.phases, check.timeout)
            peer = await _handshake(check, host, context, result.phases)
    except (OSError, ProtocolViolation) as exc:
        remaining = check.timeout - (time.monotonic() - started)
        return await _failed(
            check, host, result, unresolved(exc, nameserver, result.phases), remaining
        )
    record(result.tls, peer)
    return _judge(result, check.expect, peer)


async def _failed(
    check: TlsCheck,
    host: str,
    result: pb.Result,
    exc: BaseException,
    remaining: float,
) -> pb.Result:
    reason, message = classify(exc, connected=result.phases.HasField("connect"))
    diagnosable = reason in _DIAGNOSABLE and remaining > 0
    peer = await _diagnose(check, host, remaining) if diagnosable else None
    if peer is not None:
        record(result.tls, peer)
        # A handshake refused over the version shows up as a plain
        # handshake failure; the lenient handshake tells which it was.
        old = reason in (FailureReason.TLS_HANDSHAKE, FailureReason.TLS_VERSION)
        if old and _below(peer.version, check.expect.min_version):
            reason, message = FailureReason.TLS_VERSION, _version_message(peer, check.expect)
    return fail(result, reason, message)


def _version_message(peer: Peer, expect: TlsExpect) -> str:
    return f"server speaks {_CONFIG_NAME[peer.version]}, want {expect.min_version} or later"


async def _diagnose(check: TlsCheck, host: str, seconds: float) -> Peer | None:
    """The facts from a handshake that verifies nothing, if one succeeds."""
    try:
        async with asyncio.timeout(seconds):
            return await _handshake(check, host, _diagnostic_context(), pb.Phases())
    except (OSError, ProtocolViolation):
        return None


def _judge(result: pb.Result, expect: TlsExpect, peer: Peer) -> pb.Result:
    if _below(peer.version, expect.min_version):
        return fail(result, FailureReason.TLS_VERSION, _version_message(peer, expect))
    if not peer.chain:
        result.success = True
        return result
    days = (result.tls.not_after - time.time()) / _DAY
    when = datetime.fromtimestamp(result.tls.not_after, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if days <= 0:
        return fail(result, FailureReason.TLS_EXPIRED, f"a certificate expired on {when}")
    if days < expect.min_days_valid:
        message = (
            f"a certificate expires in {days:.1f} days ({when}), want {expect.min_days_valid:g}"
        )
        return fail(result, FailureReason.TLS_EXPIRING, message)
    result.success = True
    return result
