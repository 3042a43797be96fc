"""HTTP/1.1 on a fresh connection, for the probes' client: the request
written whole, the response parsed by httptools (llhttp, in C) as it
arrives, its body decoded (gzip, deflate), counted, limited, and kept or
scanned as it streams. One request per connection (`Connection: close`);
the connection is closed when the response ends.

Errors after the connection is up are `ProtocolViolation` (a malformed
response, a server that hangs up early, an undecodable body) or
`BodyTooLarge`; connecting fails with `http_phases.LookupFailed` or
`ConnectFailed`.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import re
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import httptools
from multidict import CIMultiDict
from yarl import URL

from agent.probe_kit.cookies import CookieJar
from agent.probe_kit.faults import BodyTooLarge, InvalidUrl, ProtocolViolation
from agent.probe_kit.http_expect import BodyScan
from agent.probe_kit.http_phases import PhaseClock, connect, is_ip_literal
from agent.probe_kit.resolve import Resolver, SystemResolver

ACCEPT_ENCODING = "gzip, deflate"
"""The codings the client decodes, so the only ones it asks for."""
_GET_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
_POST_METHODS = frozenset({"PATCH", "POST", "PUT"})
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""Control characters that would let a header value start a new header."""
_CHUNK = 64 * 1024
_MAX_FIELD = 8190
_MAX_HEADERS = 128
_ZLIB_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL says about where and how to send a request."""

    tls: bool
    host: str
    """The host to connect to (IDNA, no brackets), and for TLS the name."""
    port: int
    authority: str
    """The Host header: the host, and the port when not the default."""
    path: str
    """The request target: path and query, percent-encoded."""
    cookie_path: str
    auth: str | None
    """An Authorization header from credentials written in the URL."""


@functools.lru_cache(maxsize=1024)
def target(url: str) -> Target:
    """`url` split for sending (cached: a check requests the same URL every
    time). InvalidUrl for one that cannot be sent."""
    try:
        parts = URL(url)
        host = parts.raw_host or ""
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"bad URL {url}: {exc}") from None
    if not host or port is None or parts.scheme not in ("http", "https"):
        raise InvalidUrl(f"bad URL {url}")
    if ":" not in host and is_ip_literal(host) and not _canonical_ipv4(host):
        raise InvalidUrl(f"bad URL {url}: {host} is not a canonical IPv4 address")
    if host.endswith(".."):
        host = host.rstrip(".") + "."
    auth = None
    if parts.raw_user is not None or parts.raw_password is not None:
        auth = basic_auth(parts.user or "", parts.password or "", "latin1")
    authority = parts.host_port_subcomponent or host
    return Target(
        parts.scheme == "https", host, port, authority, parts.raw_path_qs, parts.path, auth
    )


def _canonical_ipv4(host: str) -> bool:
    octets = host.split(".")
    return len(octets) == 4 and all(
        o.isascii() and o.isdigit() and len(o) <= 3 and str(int(o)) == o and int(o) <= 255
        for o in octets
    )


def basic_auth(user: str, password: str, encoding: str = "utf-8") -> str:
    """The `Authorization` value for HTTP basic credentials (RFC 7617)."""
    if ":" in user:
        raise ValueError('A ":" is not allowed in login (RFC 7617#section-2)')
    return "Basic " + base64.b64encode(f"{user}:{password}".encode(encoding)).decode(encoding)


def _tls_context(verified: bool) -> ssl.SSLContext:
    if verified:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.options |= ssl.OP_NO_COMPRESSION
        context.set_default_verify_paths()
    context.set_alpn_protocols(("http/1.1",))  # the only protocol the client speaks
    return context


@functools.lru_cache(maxsize=64)
def ssl_context(ca_file: str | None, verify: bool = True) -> ssl.SSLContext:
    """The TLS settings for a request: system store, a CA file, or no checks.

    Cached: building a context and loading a CA bundle costs milliseconds.
    """
    if not verify:
        return _tls_context(verified=False)
    return ssl.create_default_context(cafile=ca_file) if ca_file else _tls_context(verified=True)


@dataclass(frozen=True, slots=True)
class Tls:
    """How an https request checks the server: against `ca_file` (None:
    the system's store), or not at all. The context is built on the first
    https request only: an agent probing plain HTTP never loads a CA store."""

    ca_file: str | None = None
    verify: bool = True

    def context(self) -> ssl.SSLContext:
        """The (cached) SSL context for these settings."""
        return ssl_context(self.ca_file, self.verify)


Body = tuple[bytes, str]
"""A request body and its Content-Type."""


def encode(method: str, where: Target, headers: Mapping[str, str], body: Body | None) -> bytes:
    """The request head (and body) as sent: the Host first, the given
    headers, then what is missing of Accept, Accept-Encoding, the
    credentials from the URL, the body's length and type, Connection."""
    host = where.authority
    lines = []
    names = set()
    for name, value in headers.items():
        low = name.lower()
        if low == "host":
            host = value
            continue
        names.add(low)
        lines.append(f"{name}: {value}")
    if "accept" not in names:
        lines.append("Accept: */*")
    if "accept-encoding" not in names:
        lines.append(f"Accept-Encoding: {ACCEPT_ENCODING}")
    if where.auth is not None:
        if "authorization" in names:
            raise ValueError(
                "Cannot combine AUTHORIZATION header with AUTH argument or credentials"
                " encoded in URL"
            )
        lines.append(f"Authorization: {where.auth}")
    lines += _body_headers(method, names, body)
    if "connection" not in names:
        lines.append("Connection: close")
    if _FORBIDDEN.search("\t".join((host, *lines))):
        raise ValueError("a control character in a header: it could inject another")
    head = f"{method} {where.path} HTTP/1.1\r\nHost: {host}\r\n" + "\r\n".join(lines)
    data = (head + "\r\n\r\n").encode()
    return data if body is None else data + body[0]


def _body_headers(method: str, names: set[str], body: Body | None) -> list[str]:
    lines = []
    if body is None:
        if method not in _GET_METHODS and "content-length" not in names:
            lines.append("Content-Length: 0")
    elif "content-length" not in names:
        lines.append(f"Content-Length: {len(body[0])}")
    if "content-type" not in names:
        if body is not None:
            lines.append(f"Content-Type: {body[1]}")
        elif method in _POST_METHODS:
            lines.append("Content-Type: application/octet-stream")
    return lines


def charset(content_type: str | None) -> str | None:
    """The `charset` parameter of a Content-Type value, unquoted."""
    if not content_type or ";" not in content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"')
    return None


@dataclass(slots=True)
class Response:
    """A response read whole: its body only when kept."""

    status: int
    version: str
    headers: CIMultiDict[str]
    charset: str | None
    body: bytes
    size: int
    """Decoded body bytes, kept or not."""


class Session:
    """What every request of a probe (or of one flow run) shares: the
    address family, how names are looked up, and a cookie jar for a flow.
    It holds no connection: each request opens and closes its own."""

    __slots__ = ("family", "jar", "resolver")

    def __init__(
        self, family: int, resolver: Resolver | None = None, jar: CookieJar | None = None
    ) -> None:
        self.family = family
        self.resolver: Resolver = resolver or SystemResolver()
        self.jar = jar

    async def send(
        self,
        method: str,
        where: Target,
        headers: Mapping[str, str],
        body: Body | None,
        *,
        tls: Tls,
        clock: PhaseClock,
        reader: BodyReader,
    ) -> Response:
        """One request on a fresh connection; the response read whole."""
        if self.jar is not None and len(self.jar):
            cookie = self.jar.header(where.host, where.cookie_path, where.tls, time.time())
            if cookie:
                given = next((v for k, v in headers.items() if k.lower() == "cookie"), "")
                rest = {k: v for k, v in headers.items() if k.lower() != "cookie"}
                headers = {**rest, "Cookie": f"{given}; {cookie}" if given else cookie}
        request = encode(method, where, headers, body)
        reply = _Exchange(clock, method == "HEAD", reader)
        server = (tls.context(), where.host.rstrip(".")) if where.tls else None
        transport = await connect(
            reply,
            where.host,
            where.port,
            family=self.family,
            resolver=self.resolver,
            clock=clock,
            tls=server,
        )
        whole = False
        try:
            reply.send(transport, request)
            response = await reply.done
            whole = True
        finally:
            if whole:
                transport.close()
            else:  # failed, timed out or cancelled: nothing more to say to it
                reply.done.cancel()
                transport.abort()
        if self.jar is not None and "Set-Cookie" in response.headers:
            cookies = response.headers.getall("Set-Cookie")
            self.jar.update(cookies, where.host, where.cookie_path, time.time())
        return response


@dataclass(frozen=True, slots=True)
class BodyReader:
    """What to do with a body: its limit (0: none), whether it is kept,
    and the scan it is searched by as it streams."""

    limit: int
    keep: bool
    scan: BodyScan | None = None


class _Exchange(asyncio.Protocol):
    """One response, parsed as it arrives; `done` gets it whole."""

    def __init__(self, clock: PhaseClock, head_only: bool, reader: BodyReader) -> None:
        self.clock, self.head_only, self.reader = clock, head_only, reader
        self.done: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        """Dropped when the answer is settled: it holds this protocol's
        callbacks, a cycle that only the garbage collector would free."""
        self.fields: list[tuple[str, str]] = []
        self.response: Response | None = None
        self.chunks: list[bytes] = []
        self.interim = False
        self.framed = False
        """The body's end is known (Content-Length or chunked), not EOF."""
        self.coding = ""
        self.inflate: zlib._Decompress | None = None
        self.compressed = 0

    def send(self, transport: asyncio.Transport, request: bytes) -> None:
        """Write the request on the connection made for it."""
        self.transport = transport
        if transport.is_closing():
            self._fail(ProtocolViolation("server disconnected before the request"))
            return
        transport.write(request)

    def data_received(self, data: bytes) -> None:
        """Feed the parser; its callbacks below do the rest."""
        if self.parser is None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # a 101 answer ended with its head
        except httptools.HttpParserError as exc:
            self._fail(ProtocolViolation(f"malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        """The end of a body that runs to EOF, else a server gone too soon."""
        if self.done.done() or self.transport is None:
            return
        if self.response is not None and not self.framed and exc is None:
            self._finish()
        elif exc is not None:
            detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            self._fail(ProtocolViolation(f"connection lost: {detail}"))
        elif self.response is None:
            self._fail(ProtocolViolation("server disconnected without a response"))
        else:
            self._fail(ProtocolViolation("response payload is not completed"))

    def on_header(self, name: bytes, value: bytes) -> None:
        """One response header (httptools joins its pieces)."""
        if self.done.done():
            return
        if len(name) > _MAX_FIELD or len(value) > _MAX_FIELD or len(self.fields) >= _MAX_HEADERS:
            self._fail(ProtocolViolation("response header too long, or too many"))
            return
        self.fields.append(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        )

    def on_headers_complete(self) -> None:
        """The head is whole: a 1xx is skipped, a final answer starts its body."""
        if self.done.done():
            return  # anything after the answer (a HEAD's body, a second response)
        assert self.parser is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.interim, self.fields = True, []
            return
        self.clock.mark("headers")
        headers = CIMultiDict(self.fields)
        kind = charset(headers.get("Content-Type"))
        self.response = Response(status, self.parser.get_http_version(), headers, kind, b"", 0)
        self.framed = (
            "Content-Length" in headers or "chunked" in headers.get("Transfer-Encoding", "").lower()
        )
        if self.reader.scan is not None:
            self.reader.scan.start(kind)
        if self.head_only or status == 101:
            self._finish()
            return
        coding = headers.get("Content-Encoding", "")
        if coding.isascii() and coding.lower() in ("gzip", "deflate", "br", "zstd"):
            self.coding = coding.lower()
            if self.coding not in _ZLIB_WBITS:
                self._fail(ProtocolViolation(f"cannot decode content-encoding: {self.coding}"))

    def on_body(self, data: bytes) -> None:
        """A piece of the body, decoded when it is compressed."""
        if self.done.done():
            return
        if self.coding:
            self._inflate(data)
        else:
            self._take(data)

    def on_message_complete(self) -> None:
        """The body ended (a skipped 1xx only ends itself)."""
        if self.interim:
            self.interim = False
        elif not self.done.done():
            self._finish()

    def _inflate(self, data: bytes) -> None:
        if self.inflate is None:
            if not data:
                return
            wbits = _ZLIB_WBITS[self.coding]
            if self.coding == "deflate" and data[0] & 0xF != 8:
                wbits = -zlib.MAX_WBITS  # raw deflate, no zlib header: read it anyway
            self.inflate = zlib.decompressobj(wbits)
        self.compressed += len(data)
        try:
            # Bounded steps: a small body that inflates hugely meets the
            # limit before it is all in memory.
            out = self.inflate.decompress(data, _CHUNK)
            self._take(out)
            while self.inflate.unconsumed_tail and not self.done.done():
                self._take(self.inflate.decompress(self.inflate.unconsumed_tail, _CHUNK))
        except zlib.error:
            self._fail(ProtocolViolation(f"cannot decode content-encoding: {self.coding}"))

    def _take(self, data: bytes) -> None:
        if not data:
            return
        response, reader = self.response, self.reader
        assert response is not None
        response.size += len(data)
        if reader.limit and response.size > reader.limit:
            self._fail(BodyTooLarge(reader.limit))
            return
        if reader.keep:
            self.chunks.append(data)
        if reader.scan is not None:
            reader.scan.feed(data)

    def _finish(self) -> None:
        response = self.response
        assert response is not None
        if self.inflate is not None:
            self._take(self.inflate.flush())
            if self.coding == "deflate" and self.compressed and not self.inflate.eof:
                self._fail(ProtocolViolation("cannot decode content-encoding: deflate"))
            if self.done.done():
                return
        if self.reader.scan is not None:
            self.reader.scan.feed(b"", final=True)
        chunks = self.chunks
        response.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.clock.mark("done")
        self.done.set_result(response)
        self.parser = None

    def _fail(self, exc: Exception) -> None:
        self.parser = None
        if not self.done.done():
            self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()
