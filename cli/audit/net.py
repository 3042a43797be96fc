"""The audit's I/O primitives, each built on the agent's probe code: HTTP
requests through `agent.probes.http.fetch`, DNS queries through
`agent.probes.dns.query`, and an OCSP-stapling handshake (the one TLS fact
Python's ssl module cannot read). Every call is bounded by one semaphore.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import dns.exception
import dns.rcode
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID
from OpenSSL import SSL

from agent.probe_kit.dns_client import answers, query, resolve_server
from agent.probe_kit.http_client import classify, fetch, new_session, prepare
from agent.probe_kit.http_expect import Hop
from agent.probe_kit.http_request import Tls
from agent.probe_kit.http_wire import Session
from agent.probe_kit.resolve import ResolveFailed, resolve
from cli.overrides import ConnectToResolver, Overrides
from common.config.http import HttpRequest, Redirects
from common.template import Expander

_BODY_CAP = 2 << 20
_MAX_HOPS = 10
"""Redirects followed before giving up; more is a broken chain, not a loop."""
_T = TypeVar("_T")


@dataclass(frozen=True)
class Page:
    """One HTTP answer (after redirects when followed), or why there is none."""

    url: str
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    chain: tuple[Hop, ...] = ()
    final_url: str = ""
    elapsed: float = 0.0
    error: str = ""
    message: str = ""

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitive."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def header_all(self, name: str) -> list[str]:
        """Every value of a repeated header (Set-Cookie)."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        """The body as text, undecodable bytes replaced."""
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class DnsAnswer:
    """One query's rcode and answers ("" rcode: no answer at all)."""

    rcode: str
    answers: tuple[str, ...] = ()


@dataclass
class Net:
    """Bounded access to the network with the CLI's overrides applied."""

    overrides: Overrides
    timeout: float = 10.0
    limit: int = 16
    on_done: Callable[[], None] = lambda: None
    _gate: asyncio.Semaphore = field(init=False)
    _session: Session | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._gate = asyncio.Semaphore(self.limit)

    async def bounded(self, work: Awaitable[_T]) -> _T:
        """Run `work` when a slot is free; count it as done for progress."""
        async with self._gate:
            try:
                return await work
            finally:
                self.on_done()

    def session(self) -> Session:
        """The one session: the overrides' resolver, no cookies."""
        if self._session is None:
            self._session = new_session(resolver=ConnectToResolver(self.overrides))
        return self._session

    async def close(self) -> None:
        """Forget the session (it holds no connection)."""
        self._session = None

    async def get(self, url: str, follow: bool = False) -> Page:
        """GET `url` without verifying certificates (the TLS checks judge
        those), following up to 10 redirects when `follow`. Never raises."""
        return await self.bounded(self.get_now(url, follow))

    async def get_now(self, url: str, follow: bool = False) -> Page:
        """`get` without taking a slot: for sequential latency samples."""
        spec = HttpRequest(
            url=url, redirects=Redirects(follow=follow, max=_MAX_HOPS), max_body_bytes=_BODY_CAP
        )
        try:
            request = prepare(spec, Expander({}))
            got = await fetch(self.session(), request, self.timeout, Tls(verify=False))
        except Exception as exc:  # noqa: BLE001  # classify() maps every failure to data
            reason, message = classify(exc)
            return Page(url, error=reason.value, message=message)
        answer = got.answer
        headers = tuple(answer.headers.items())
        chain = tuple(answer.chain)
        return Page(
            url, answer.status, headers, answer.body, chain, answer.final_url, answer.elapsed
        )

    async def dns(self, name: str, rdtype: str) -> DnsAnswer:
        """Ask the configured (or system) server; a failed query has rcode ""."""
        return await self.bounded(self._dns(name, rdtype))

    async def _dns(self, name: str, rdtype: str) -> DnsAnswer:
        where = self.overrides.dns_server or resolve_server(None)
        try:
            response, _ = await query(name, rdtype, where, min(self.timeout, 5.0))
        except (dns.exception.DNSException, OSError):
            return DnsAnswer("")
        return DnsAnswer(dns.rcode.to_text(response.rcode()), tuple(answers(response, rdtype)))

    async def ocsp(self, host: str, port: int = 443) -> tuple[bool, bool] | None:
        """(stapled, the leaf names an OCSP responder) from a handshake that
        asks for stapling; None when no handshake succeeds."""
        to_host, to_port = self.overrides.target(host, port)
        if self.overrides.dns_server is not None:
            try:
                found = await resolve(to_host, self.overrides.dns_server, socket.AF_UNSPEC, 5.0)
            except ResolveFailed:
                return None
            to_host = found[0]
        work = asyncio.to_thread(_ocsp_handshake, host, (to_host, to_port), self.timeout)
        return await self.bounded(work)


def _ocsp_handshake(sni: str, address: tuple[str, int], timeout: float) -> tuple[bool, bool] | None:
    stapled: list[bytes] = []

    def keep(_conn: SSL.Connection, data: bytes, _extra: object) -> bool:
        stapled.append(data)
        return True  # only reading: never fail the handshake over it

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    context.set_ocsp_client_callback(keep)
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            conn = SSL.Connection(context, sock)
            conn.set_tlsext_host_name(sni.encode())
            conn.request_ocsp()
            conn.set_connect_state()
            _handshake(conn, sock, deadline)
            leaf = conn.get_peer_certificate(as_cryptography=True)
    except (OSError, SSL.Error):
        return None
    return bool(stapled and stapled[0]), leaf is not None and _has_ocsp_url(leaf)


def _handshake(conn: SSL.Connection, sock: socket.socket, deadline: float) -> None:
    # A socket with a timeout is non-blocking underneath, so OpenSSL asks to
    # be called again whenever the peer has not answered yet.
    wait: tuple[list[socket.socket], list[socket.socket]]
    while True:
        try:
            conn.do_handshake()
            return
        except SSL.WantReadError:
            wait = ([sock], [])
        except SSL.WantWriteError:
            wait = ([], [sock])
        left = deadline - time.monotonic()
        readable, writable, _ = select.select(*wait, [], max(left, 0))
        if not readable and not writable:
            raise TimeoutError("TLS handshake timed out")


def _has_ocsp_url(cert: x509.Certificate) -> bool:
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return False
    return any(d.access_method == AuthorityInformationAccessOID.OCSP for d in access)
