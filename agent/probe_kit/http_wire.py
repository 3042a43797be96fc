"""HTTP/1.1 on a fresh connection, for the probes' client: the request
(`http_request.encode`) written whole, the response parsed by httptools (llhttp, in C) as it
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
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import httptools
from multidict import CIMultiDict

from agent.probe_kit.cookies import CookieJar
from agent.probe_kit.faults import BodyTooLarge, ProtocolViolation
from agent.probe_kit.http_expect import BodyScan
from agent.probe_kit.http_phases import PhaseClock, connect
from agent.probe_kit.http_request import Body, Target, Tls, encode
from agent.probe_kit.resolve import Resolver, SystemResolver

_CHUNK = 64 * 1024
_MAX_FIELD = 8190
_MAX_HEADERS = 128
_ZLIB_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


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
