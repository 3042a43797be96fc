"""The probes' HTTP client (agent/probe_kit/http_wire.py, http_phases.py)
against raw servers on loopback: what it sends, what it reads (framing,
codings, 1xx, HEAD), and which failure reason each transport error becomes.
These pin what the http and http_flow probes report; the mapping table
covers every branch of `http_client.classify`."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
import uvloop

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.faults import BodyTooLarge, InvalidUrl, ProtocolViolation, failure
from agent.probe_kit.http_client import ConnectTimeout, RedirectLoop, classify, new_session
from agent.probe_kit.http_phases import ConnectFailed, LookupFailed
from agent.probe_kit.http_request import encode, target
from agent.probe_kit.resolve import ResolveFailed
from agent.probes.http import probe
from common.config.http import HttpCheck
from common.faults import Fault
from common.reasons import FailureReason
from common.wire import phases_of
from vantage.v1 import vantage_pb2 as pb

Reply = Callable[[bytes], Awaitable[bytes | None]]
"""Given the request's bytes, the raw reply (None: hang up without one)."""


class RawServer:
    """A TCP server on loopback that answers each request with `reply`."""

    def __init__(self, reply: Reply, hold: bool = False) -> None:
        self.reply, self.hold = reply, hold
        self.requests: list[bytes] = []
        self.url = ""
        self.handlers: list[asyncio.Task[Any] | None] = []
        self.released = asyncio.Event()
        """Set at teardown: a held connection closes then."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        request = head + (await reader.readexactly(length) if length else b"")
        self.requests.append(request)
        self.handlers.append(asyncio.current_task())
        answer = await self.reply(request)
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        if self.hold:
            await self.released.wait()
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    servers: list[tuple[asyncio.Server, RawServer]] = []

    async def start(reply: Reply, hold: bool = False) -> RawServer:
        raw = RawServer(reply, hold)
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append((server, raw))
        raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return raw

    yield start
    for server, raw in servers:
        raw.released.set()
        server.close()
        await asyncio.gather(*(t for t in raw.handlers if t), return_exceptions=True)


def fixed(data: bytes | None) -> Reply:
    async def reply(_request: bytes) -> bytes | None:
        return data

    return reply


def ok(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


async def run(url: str, **kw: Any) -> pb.Result:
    ctx = ProbeContext("agent-1", "eu", env={}, session_factory=new_session)
    check = HttpCheck.model_validate({"name": "c", "url": url, "timeout": 1, **kw})
    return await probe(check, ctx)


_HELLO = ok(b"hello", "Content-Length: 5")
_DEFLATED = zlib.compress(b"hello deflate")
_RAW_DEFLATE = zlib.compressobj(wbits=-zlib.MAX_WBITS)
_RAW = _RAW_DEFLATE.compress(b"hello raw") + _RAW_DEFLATE.flush()


@pytest.mark.parametrize(
    ("reply", "body"),
    [
        (_HELLO, "hello"),
        (ok(chunked(b"hel", b"lo"), "Transfer-Encoding: chunked"), "hello"),
        (ok(b"hello until EOF"), "hello until EOF"),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + _HELLO, "hello"),
        (ok(gzip.compress(b"hello gzip"), "Content-Encoding: gzip"), "hello gzip"),
        (
            ok(_DEFLATED, "Content-Encoding: deflate", f"Content-Length: {len(_DEFLATED)}"),
            "hello deflate",
        ),
        (ok(_RAW, "Content-Encoding: deflate"), "hello raw"),
        (b"HTTP/1.0 200 OK\r\n\r\nhello 1.0", "hello 1.0"),
    ],
    ids=["length", "chunked", "eof", "100-continue", "gzip", "deflate", "raw-deflate", "http-1.0"],
)
async def test_bodies_are_read_whole_and_decoded(
    serve: Callable[..., Awaitable[RawServer]], reply: bytes, body: str
) -> None:
    server = await serve(fixed(reply))
    r = await run(server.url + "/", expect={"body_regex": f"^{body}$"})
    assert r.success, r.message
    assert r.http.body_bytes == len(body)
    assert r.http.http_version == ("1.0" if "1.0" in body else "1.1")
    assert r.http.peer_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (None, "server disconnected without a response"),
        (b"SSH-2.0-OpenSSH\r\n", "malformed HTTP response"),
        (ok(b"hel", "Content-Length: 5"), "response payload is not completed"),
        (ok(b"xx", "Content-Encoding: br", "Content-Length: 2"), "content-encoding: br"),
        (ok(b"not gzip", "Content-Encoding: gzip", "Content-Length: 8"), "content-encoding: gzip"),
    ],
    ids=["hang-up", "garbage", "short-body", "brotli", "bad-gzip"],
)
async def test_a_broken_answer_is_a_protocol_error(
    serve: Callable[..., Awaitable[RawServer]], reply: bytes | None, message: str
) -> None:
    server = await serve(fixed(reply))
    r = await run(server.url + "/")
    assert r.reason == pb.FAILURE_REASON_PROTOCOL_ERROR
    assert message in r.message


async def test_head_ends_with_its_head(serve: Callable[..., Awaitable[RawServer]]) -> None:
    # The server keeps the connection open: the client must not wait for a body.
    server = await serve(fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"), hold=True)
    r = await run(server.url + "/", method="HEAD")
    assert r.success, r.message
    assert r.http.body_bytes == 0


async def test_what_is_sent(serve: Callable[..., Awaitable[RawServer]]) -> None:
    server = await serve(fixed(_HELLO))
    r = await run(
        server.url.replace("127.0.0.1", "user:pa%20ss@127.0.0.1") + "/a b?q=ü#frag",
        method="POST",
        json={"k": "v"},
    )
    assert r.success, r.message
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    port = server.url.rsplit(":", 1)[1]
    assert lines[0] == "POST /a%20b?q=%C3%BC HTTP/1.1"
    assert lines[1] == f"Host: 127.0.0.1:{port}"
    sent = dict(line.split(": ", 1) for line in lines[1:])
    assert sent["Accept"] == "*/*" and sent["Accept-Encoding"] == "gzip, deflate"
    assert sent["Connection"] == "close"
    assert sent["Content-Type"] == "application/json" and body == b'{"k": "v"}'
    assert sent["Authorization"] == "Basic dXNlcjpwYSBzcw=="  # user:pa ss
    assert sent["X-Request-ID"] == r.request_id


@pytest.mark.parametrize(
    ("method", "body", "want"),
    [
        ("GET", None, {}),
        ("DELETE", None, {"Content-Length": "0"}),
        ("POST", None, {"Content-Length": "0", "Content-Type": "application/octet-stream"}),
        ("PUT", (b"x", "text/plain; charset=utf-8"), {"Content-Length": "1"}),
    ],
    ids=["get", "delete", "post-empty", "put-text"],
)
def test_body_headers(method: str, body: tuple[bytes, str] | None, want: dict[str, str]) -> None:
    head = encode(method, target("http://h/"), {}, body).split(b"\r\n\r\n")[0].decode()
    sent = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    got = {k: v for k, v in sent.items() if k in ("Content-Length", "Content-Type")}
    if body is not None:
        want = {**want, "Content-Type": body[1]}
    assert got == want


def test_a_header_cannot_inject_another() -> None:
    with pytest.raises(ValueError, match="control character"):
        encode("GET", target("http://h/"), {"X-A": "1\r\nX-B: 2"}, None)


def test_a_host_header_replaces_the_urls() -> None:
    head = encode("GET", target("http://[::1]:8080/"), {"Host": "example.com"}, None)
    assert head.startswith(b"GET / HTTP/1.1\r\nHost: example.com\r\n")
    assert target("https://[::1]:443/").authority == "[::1]"


async def test_a_slow_body_times_out_after_the_connection(
    serve: Callable[..., Awaitable[RawServer]],
) -> None:
    server = await serve(fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"), hold=True)
    r = await run(server.url + "/")
    assert r.reason == pb.FAILURE_REASON_TIMEOUT
    assert r.message == "timed out"


async def test_a_body_over_the_limit_after_inflating_is_too_large(
    serve: Callable[..., Awaitable[RawServer]],
) -> None:
    bomb = gzip.compress(b"0" * 5_000_000)
    server = await serve(fixed(ok(bomb, "Content-Encoding: gzip")))
    r = await run(server.url + "/", max_body_bytes=100_000)
    assert r.reason == pb.FAILURE_REASON_BODY_TOO_LARGE


_CERT = ssl.SSLCertVerificationError("certificate verify failed")
_CERT.verify_code, _CERT.verify_message = 10, "certificate has expired"
_OLD = ssl.SSLError()
_OLD.reason = "TLSV1_ALERT_PROTOCOL_VERSION"


@pytest.mark.parametrize(
    ("exc", "reason", "message"),
    [
        (
            LookupFailed("nope.test", socket.gaierror(socket.EAI_NONAME, "Name not known")),
            FailureReason.DNS_NXDOMAIN,
            "cannot resolve nope.test: no such name (Name not known)",
        ),
        (
            LookupFailed("h", socket.gaierror(socket.EAI_AGAIN, "Temporary failure")),
            FailureReason.DNS_ERROR,
            "cannot resolve h: cannot resolve: Temporary failure",
        ),
        (
            LookupFailed("h", ResolveFailed(failure(Fault.DNS_REFUSED, "refused by 10.0.0.1"))),
            FailureReason.DNS_REFUSED,
            "refused by 10.0.0.1",
        ),
        (
            ConnectFailed("h", 80, ConnectionRefusedError(111, "Connection refused")),
            FailureReason.CONNECT_REFUSED,
            "connect to h:80: Connection refused",
        ),
        (
            ConnectFailed("h", 80, OSError(113, "No route to host")),
            FailureReason.CONNECT_ERROR,
            "connect to h:80: No route to host",
        ),
        (ConnectFailed("h", 443, _CERT), FailureReason.TLS_EXPIRED, "certificate verify failed"),
        (ConnectFailed("h", 443, _OLD), FailureReason.TLS_VERSION, "TLS handshake failed"),
        (ConnectTimeout("connect timed out"), FailureReason.CONNECT_TIMEOUT, "connect timed out"),
        (TimeoutError(), FailureReason.TIMEOUT, "timed out"),
        (InvalidUrl("bad URL x"), FailureReason.INVALID_URL, "bad URL x"),
        (RedirectLoop("redirect loop: a -> a"), FailureReason.REDIRECT_LOOP, "redirect loop"),
        (ProtocolViolation("server disconnected"), FailureReason.PROTOCOL_ERROR, "server"),
        (BodyTooLarge(10), FailureReason.BODY_TOO_LARGE, "body larger than max_body_bytes"),
        (ValueError("bug"), FailureReason.INTERNAL, "ValueError: bug"),
    ],
    ids=[
        "nxdomain",
        "dns-again",
        "nameserver",
        "refused",
        "unreachable",
        "cert",
        "tls-version",
        "connect-timeout",
        "timeout",
        "invalid-url",
        "redirect-loop",
        "protocol",
        "too-large",
        "internal",
    ],
)
def test_classify_maps_each_client_error(
    exc: BaseException, reason: FailureReason, message: str
) -> None:
    got, text = classify(exc)
    assert got is reason
    assert text.startswith(message), text


def test_https_on_uvloop_as_in_the_agent(tmp_path: Path) -> None:
    """The agent runs on uvloop: TLS is started on the connection there too,
    with the URL's name for SNI and verification, and its facts kept."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    seen: list[str | None] = []
    server_ctx.sni_callback = lambda _sock, name, _ctx: seen.append(name)

    async def go() -> tuple[pb.Result, pb.Result]:
        server = await asyncio.start_server(
            RawServer(fixed(_HELLO)).handle, "127.0.0.1", 0, ssl=server_ctx
        )
        port = server.sockets[0].getsockname()[1]
        url = f"https://localhost:{port}/"
        try:
            good = await run(url, ca_file=str(ca_file), ip_version=4)
            untrusted = await run(url, ip_version=4)
        finally:
            server.close()
        return good, untrusted

    good, untrusted = uvloop.run(go())
    assert good.success, good.message
    assert good.tls.sans == ["localhost"] and good.phases.tls > 0
    assert set(phases_of(good.phases)) == {"resolve", "connect", "tls", "processing", "transfer"}
    assert seen[0] == "localhost"
    assert untrusted.reason == pb.FAILURE_REASON_TLS_VERIFY
