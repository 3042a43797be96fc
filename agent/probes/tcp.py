"""The `tcp` probe: connect, optionally upgrade to TLS (implicit, or after
STARTTLS on an SMTP, IMAP or POP3 port), then run the `query_response`
steps as blackbox_exporter's tcp prober does.

A step that expects a regex reads lines until one matches; the connection
closing first fails assertion `tcp.expect`. Certificate facts go to
`Result.tls`, so a mail server's certificate expiry shows as
`probe_ssl_earliest_cert_expiry` like a web one's. Library errors become
failure reasons in `classify` only.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import ssl
import time
from datetime import UTC, datetime

from agent.probe_kit.base import (
    Nameserver,
    ProbeContext,
    assertion,
    fail,
    finish_assertions,
    new_result,
)
from agent.probe_kit.certs import read_peer, record
from agent.probe_kit.faults import Failure, ProtocolViolation
from agent.probe_kit.faults import classify as classify_shared
from agent.probe_kit.resolve import lookup, unresolved
from agent.probe_kit.starttls import negotiate
from common.config.tcp import QueryStep, TcpCheck
from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb

_MAX_LINES = 1000  # lines read while waiting for one expect regex
_DAY = 86400.0


@functools.lru_cache(maxsize=64)
def _context(ca_file: str | None, mtime: float) -> ssl.SSLContext:
    # Loading a CA store costs milliseconds, so contexts are shared; the
    # file's mtime is in the key so an edited ca_file is reloaded.
    del mtime
    return ssl.create_default_context(cafile=ca_file)


def classify(exc: BaseException, connected: bool = True) -> Failure:
    """The error mapper: everything this probe meets is in the shared table."""
    return classify_shared(exc, connected)


async def probe(check: TcpCheck, ctx: ProbeContext) -> pb.Result:
    """Connect to `check.target` and run its TLS and query_response steps."""
    result = new_result(check, ctx)
    started = time.monotonic()
    try:
        async with asyncio.timeout(check.timeout):
            await _converse(check, result, started, ctx.nameserver)
    except (OSError, ProtocolViolation) as exc:
        connected = result.phases.HasField("connect")
        return fail(result, *classify(unresolved(exc, ctx.nameserver, result.phases), connected))
    finally:
        result.duration_seconds = time.monotonic() - started
    if check.secure and result.tls.not_after and not _cert_ok(result, check):
        return result
    return finish_assertions(result)


async def _converse(
    check: TcpCheck, result: pb.Result, started: float, nameserver: Nameserver | None
) -> None:
    host, port = check.address
    host = await lookup(host, nameserver, result.phases, check.timeout)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        result.phases.connect = time.monotonic() - started
        if check.secure:
            if check.starttls:
                await negotiate(check.starttls, reader, writer)
            mtime = os.stat(check.ca_file).st_mtime if check.ca_file else 0.0
            await writer.start_tls(_context(check.ca_file, mtime), server_hostname=check.sni)
            result.phases.tls = time.monotonic() - started - result.phases.connect
            record(result.tls, read_peer(writer.get_extra_info("ssl_object")))
        await _query_response(check.query_response, reader, writer, result)
    finally:
        # Nothing more to say: waiting for the peer's close would only add latency.
        writer.transport.abort()


async def _query_response(
    steps: tuple[QueryStep, ...],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    result: pb.Result,
) -> None:
    for step in steps:
        if step.send is not None:
            writer.write(step.send.encode() + b"\r\n")
            await writer.drain()
        elif step.expect is not None and not await _expect(step.expect, reader, result):
            return  # later steps depend on this answer


async def _expect(regex: str, reader: asyncio.StreamReader, result: pb.Result) -> bool:
    pattern = re.compile(regex)
    last = ""
    for _ in range(_MAX_LINES):
        raw = await reader.readline()
        if not raw:
            break
        last = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if pattern.search(last):
            return assertion(result, "tcp.expect", True)
    shown = f", last line {last[:80]!r}" if last else ""
    return assertion(result, "tcp.expect", False, f"no line matched {regex!r}{shown}")


def _cert_ok(result: pb.Result, check: TcpCheck) -> bool:
    """Judge the certificate's expiry as the tls probe does; False after
    failing the result."""
    days = (result.tls.not_after - time.time()) / _DAY
    when = datetime.fromtimestamp(result.tls.not_after, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if days < check.expect.min_days_valid:
        want = check.expect.min_days_valid
        message = f"a certificate expires in {days:.1f} days ({when}), want {want:g}"
        fail(result, FailureReason.TLS_EXPIRING, message)
        return False
    return True
