"""The TLS probe against real asyncio TLS servers on loopback, with trustme
certificates, and the tls config model."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import textwrap
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.http_client import new_session
from agent.probes import http as http_probe
from agent.probes import tcp as tcp_probe
from agent.probes.tls import probe
from common.config import ConfigError, parse_config
from common.config.http import HttpCheck
from common.config.tcp import TcpCheck
from common.config.tls import TlsCheck, TlsExpect
from common.reasons import FailureReason
from common.wire import check_from_proto, check_to_proto, phases_of
from tests.support.net import free_port
from vantage.v1 import vantage_pb2 as pb

CTX = ProbeContext("agent-1", "eu-west")
NOW = datetime.now(UTC)
Serve = Callable[..., Awaitable[int]]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(cert: trustme.LeafCert, tls_max: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    if tls_max is not None:
        context.maximum_version = tls_max
    return context


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def hold(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    """Keep the connection until the client goes (it aborts after its handshake)."""
    with contextlib.suppress(OSError):
        await reader.read()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts servers on 127.0.0.1 (TLS when given a context) and returns
    their ports; every server and connection is closed at teardown."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[None]] = []

    async def start(context: ssl.SSLContext | None, handler: Handler = hold) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            handlers.append(asyncio.current_task())  # type: ignore[arg-type]
            await handler(reader, writer)

        server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()
    for writer in writers:
        writer.transport.abort()
    # Handlers end on the abort; left running, Python 3.11 would log their
    # cancellation at loop shutdown.
    await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), 5)


def check(port: int, ca_file: str | None, **kw: object) -> TlsCheck:
    fields: dict[str, object] = {"server_name": "localhost", "ca_file": ca_file, "timeout": 2}
    return TlsCheck.model_validate({"name": "cert", "target": f"127.0.0.1:{port}", **fields, **kw})


def reason(result: pb.Result) -> FailureReason:
    return FailureReason.from_proto(result.reason)


def leaf(cert: trustme.LeafCert) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())


async def test_valid_certificate_records_facts(ca: trustme.CA, ca_file: str, serve: Serve) -> None:
    cert = ca.issue_cert("localhost", not_after=NOW + timedelta(days=90))
    port = await serve(server_context(cert))
    result = await probe(check(port, ca_file), CTX)
    assert result.success, result.message
    expected = leaf(cert)
    tls = result.tls
    assert tls.serial == format(expected.serial_number, "x")
    assert tls.sha256_fingerprint == expected.fingerprint(hashes.SHA256()).hex()
    # the leaf expires before trustme's CA, so it is the chain's earliest
    assert tls.not_after == expected.not_valid_after_utc.timestamp()
    assert (tls.version, list(tls.sans)) == ("TLSv1.3", ["localhost"])
    assert tls.cipher.startswith("TLS_")
    assert tls.subject == expected.subject.rfc4514_string()
    assert tls.issuer == expected.issuer.rfc4514_string()
    assert set(phases_of(result.phases)) == {"connect", "tls"}


@pytest.mark.parametrize(
    ("not_after", "expected", "message"),
    [
        (
            timedelta(days=-1),
            FailureReason.TLS_EXPIRED,
            "certificate verify failed: certificate has expired",
        ),
        (
            timedelta(days=3, hours=1),
            FailureReason.TLS_EXPIRING,
            "a certificate expires in 3.0 days",
        ),
    ],
    ids=["expired", "expiring"],
)
async def test_expiry(
    ca: trustme.CA,
    ca_file: str,
    serve: Serve,
    not_after: timedelta,
    expected: FailureReason,
    message: str,
) -> None:
    cert = ca.issue_cert(
        "localhost", not_before=NOW - timedelta(days=30), not_after=NOW + not_after
    )
    port = await serve(server_context(cert))
    result = await probe(check(port, ca_file), CTX)
    assert reason(result) is expected
    assert result.message.startswith(message), result.message
    # facts are known even when verification failed
    assert result.tls.not_after == leaf(cert).not_valid_after_utc.timestamp()
    assert result.tls.serial == format(leaf(cert).serial_number, "x")


async def test_wrong_hostname(ca: trustme.CA, ca_file: str, serve: Serve) -> None:
    port = await serve(server_context(ca.issue_cert("localhost")))
    result = await probe(check(port, ca_file, server_name="www.other.test"), CTX)
    assert reason(result) is FailureReason.TLS_HOSTNAME
    assert result.message == (
        "certificate verify failed: Hostname mismatch, certificate is not valid for "
        "'www.other.test'."
    )
    assert list(result.tls.sans) == ["localhost"]


async def test_unknown_issuer_is_tls_verify(ca_file: str, serve: Serve) -> None:
    stranger = trustme.CA().issue_cert("localhost")
    port = await serve(server_context(stranger))
    result = await probe(check(port, ca_file), CTX)
    assert reason(result) is FailureReason.TLS_VERIFY
    assert result.message == ("certificate verify failed: unable to get local issuer certificate")
    assert result.tls.sha256_fingerprint == leaf(stranger).fingerprint(hashes.SHA256()).hex()


async def test_version_below_minimum(ca: trustme.CA, ca_file: str, serve: Serve) -> None:
    port = await serve(server_context(ca.issue_cert("localhost"), ssl.TLSVersion.TLSv1_2))
    strict = check(port, ca_file, expect=TlsExpect(min_version="TLS1.3"))
    result = await probe(strict, CTX)
    assert reason(result) is FailureReason.TLS_VERSION
    assert result.message == "server speaks TLS1.2, want TLS1.3 or later"
    assert result.tls.version == "TLSv1.2"


def tls10_server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = server_context(cert)
    try:
        with warnings.catch_warnings():  # TLS 1.0 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
        # OpenSSL 3 needs security level 0 for TLS 1.0
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError) as exc:
        pytest.skip(f"this OpenSSL cannot serve TLS 1.0: {exc}")
    return context


async def test_tls10_only_server(ca: trustme.CA, ca_file: str, serve: Serve) -> None:
    port = await serve(tls10_server_context(ca.issue_cert("localhost")))
    result = await probe(check(port, ca_file), CTX)
    if result.tls.version != "TLSv1":
        pytest.skip(f"this OpenSSL will not negotiate TLS 1.0: {result.message}")
    assert reason(result) is FailureReason.TLS_VERSION
    assert result.message == "server speaks TLS1.0, want TLS1.2 or later"
    lenient = await probe(check(port, ca_file, expect=TlsExpect(min_version="TLS1.0")), CTX)
    assert lenient.success, lenient.message
    assert lenient.tls.version == "TLSv1"


async def test_connection_refused(ca_file: str) -> None:
    result = await probe(check(free_port(), ca_file), CTX)
    assert reason(result) is FailureReason.CONNECT_REFUSED
    assert not result.phases.HasField("tls")


async def test_silent_server_is_a_handshake_timeout(ca_file: str, serve: Serve) -> None:
    port = await serve(None)
    result = await probe(check(port, ca_file, timeout=0.3), CTX)
    assert reason(result) is FailureReason.TIMEOUT
    assert result.message == "TLS handshake timed out"
    assert result.phases.HasField("connect")


async def test_plain_tcp_server_is_a_handshake_failure(ca_file: str, serve: Serve) -> None:
    async def http(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()

    port = await serve(None, http)
    result = await probe(check(port, ca_file), CTX)
    assert reason(result) is FailureReason.TLS_HANDSHAKE
    assert result.message == "TLS handshake failed: WRONG_VERSION_NUMBER"
    assert not result.tls.sha256_fingerprint


async def test_missing_ca_file_is_config(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    result = await probe(check(free_port(), missing), CTX)
    assert reason(result) is FailureReason.CONFIG
    assert result.message == f"ca_file {missing}: No such file or directory"


def _config(body: str) -> str:
    return "checks:\n" + textwrap.indent(textwrap.dedent(body), "  ")


BAD = [
    (
        "bad-min-version",
        """\
        - name: cert
          type: tls
          target: www.example.com:443
          expect: {min_version: SSL3}
        """,
        "checks.yaml:5: check 'cert': field 'expect.min_version': "
        "bad min_version 'SSL3': use one of TLS1.0, TLS1.1, TLS1.2, TLS1.3",
    ),
    (
        "bad-target",
        """\
        - name: cert
          type: tls
          target: "www.example.com:https"
        """,
        "checks.yaml:4: check 'cert': field 'target': "
        "bad address 'www.example.com:https': write host:port, e.g. 127.0.0.1:443",
    ),
    (
        "negative-days",
        """\
        - name: cert
          type: tls
          target: www.example.com:443
          expect: {min_days_valid: -1}
        """,
        "checks.yaml:5: check 'cert': field 'expect.min_days_valid': "
        "Input should be greater than or equal to 0",
    ),
    (
        "bad-server-name",
        """\
        - name: cert
          type: tls
          target: 127.0.0.1:443
          server_name: "-bad-.example.com"
        """,
        "checks.yaml:5: check 'cert': field 'server_name': "
        "bad server_name '-bad-.example.com': use a DNS name like www.example.com",
    ),
]


@pytest.mark.parametrize(("body", "message"), [(b, m) for _, b, m in BAD], ids=[i for i, *_ in BAD])
def test_bad_config_message(body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_config(body), "checks.yaml")
    assert info.value.problems == [message]


def test_config_as_written_with_defaults() -> None:
    config = parse_config(
        _config("""\
        - name: cert-www
          type: tls
          target: www.example.com:443
          ca_file: /etc/vantage/ca.pem
        - name: cert-v6
          type: tls
          target: "[2001:db8::1]:443"
          server_name: www.example.com
          expect: {min_days_valid: 30, min_version: TLSv1.3}
        """),
        "checks.yaml",
    )
    www, v6 = config.checks
    assert [check_from_proto(check_to_proto(c)) for c in config.checks] == [www, v6]
    assert isinstance(www, TlsCheck) and isinstance(v6, TlsCheck)
    assert (www.address, www.sni, www.expect) == (
        ("www.example.com", 443),
        "www.example.com",
        TlsExpect(min_days_valid=14, min_version="TLS1.2"),
    )
    assert (v6.address, v6.sni, v6.expect.min_version) == (
        ("2001:db8::1", 443),
        "www.example.com",
        "TLS1.3",
    )


async def refuse_version(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer the ClientHello as an old server (nginx with TLSv1 only) does:
    a fatal protocol_version alert."""
    await reader.read(5)
    writer.write(bytes([21, 3, 1, 0, 2, 2, 70]))  # alert, TLS 1.0, fatal, protocol_version
    await writer.drain()
    await hold(reader, writer)


async def test_old_tls_server_is_tls_version_in_every_probe(ca_file: str, serve: Serve) -> None:
    # Held-out: the same server was tls_version for tls, tls_handshake for http and tcp.
    port = await serve(None, refuse_version)
    checks: list[tuple[Callable[[Any, ProbeContext], Awaitable[pb.Result]], object]] = [
        (
            tcp_probe.probe,
            TcpCheck(name="t", target=f"127.0.0.1:{port}", tls=True, ca_file=ca_file),
        ),
        (http_probe.probe, HttpCheck(name="h", url=f"https://127.0.0.1:{port}/", ca_file=ca_file)),
        (probe, check(port, ca_file)),
    ]
    ctx = ProbeContext("agent-1", "eu", session_factory=new_session)
    try:
        results = [await run(c, ctx) for run, c in checks]
    finally:
        await ctx.close()
    assert [reason(r) for r in results] == [FailureReason.TLS_VERSION] * 3, results
