"""Phase timing for HTTP probes, and the fresh connection each request
opens while its clock runs.

blackbox_exporter's phases are resolve, connect, tls, processing and
transfer. `connect()` marks DNS start and end (host names only), TCP start
(after the lookup), TCP connected (before a TLS handshake) and connection
end, and keeps the handshake's ssl object for certificate facts; the
exchange marks headers and done.

Errors while connecting come out as one of two types, so that `classify`
can name the host: `LookupFailed` (no address) and `ConnectFailed` (no
connection, or no TLS session on it).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any

import aiohappyeyeballs

if TYPE_CHECKING:
    from agent.probe_kit.resolve import Resolver


class PhaseClock:
    """Monotonic marks for one request, turned into blackbox phase timings."""

    __slots__ = ("marks", "peer_address", "ssl_object", "tls")

    def __init__(self, tls: bool) -> None:
        self.marks: dict[str, float] = {"start": time.perf_counter()}
        self.tls = tls
        self.ssl_object: ssl.SSLObject | None = None
        self.peer_address = ""
        """The IP the connection reached (blackbox's probe_ip_protocol)."""

    def mark(self, name: str) -> None:
        """Record the first time `name` happens."""
        if name not in self.marks:
            self.marks[name] = time.perf_counter()

    def phases(self) -> dict[str, float]:
        """Durations between consecutive marks, blackbox_exporter names."""
        m = self.marks
        return {name: m[b] - m[a] for name, a, b in _ORDER[self.tls] if a in m and b in m}


# Without TLS, protocol set-up after the TCP connect is part of connect, and
# `tls` is zero.
_ORDER = {
    tls: (
        ("resolve", "dns_start", "dns_end"),
        ("connect", "tcp_start", connected),
        ("tls", connected, "conn_end"),
        ("processing", "conn_end", "headers"),
        ("transfer", "headers", "done"),
    )
    for tls, connected in ((True, "tcp_connected"), (False, "conn_end"))
}

_HAPPY_EYEBALLS_DELAY = 0.25
"""RFC 8305's connection attempt delay, as aiohttp used."""

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]


class LookupFailed(Exception):
    """`host` has no address: `error` is the resolver's (a gaierror from the
    system, a ResolveFailed from a configured nameserver)."""

    def __init__(self, host: str, error: OSError) -> None:
        super().__init__(f"cannot resolve {host}: {error}")
        self.host, self.error = host, error


class ConnectFailed(Exception):
    """No connection to `host:port`, or no TLS session on it: `error` says
    why (an OSError, ssl.SSLError or ssl.SSLCertVerificationError)."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(f"connect to {host}:{port}: {error}")
        self.host, self.port, self.error = host, port, error


def is_ip_literal(host: str) -> bool:
    """Whether `host` is written as an address: it is looked up nowhere."""
    return ":" in host or host.replace(".", "").isdigit()


async def connect(
    protocol: asyncio.Protocol,
    host: str,
    port: int,
    *,
    family: int,
    resolver: Resolver,
    clock: PhaseClock,
    tls: tuple[ssl.SSLContext, str] | None,
) -> asyncio.Transport:
    """A fresh connection to `host:port` (TLS with `tls`' context and
    server name when given) driving `protocol`, every phase marked on
    `clock`. Every address is tried, as happy eyeballs orders them."""
    if is_ip_literal(host):
        infos: list[AddrInfo] = [(family, socket.SOCK_STREAM, 0, "", (host, port))]
    else:
        clock.mark("dns_start")
        try:
            addresses = await resolver.resolve(host, port, family)
        except OSError as exc:
            raise LookupFailed(host, exc) from exc
        clock.mark("dns_end")
        infos = [(fam, socket.SOCK_STREAM, 0, "", address) for fam, address in addresses]
    clock.mark("tcp_start")  # after the lookup: connect excludes resolve, as in blackbox
    failed: ConnectFailed | None = None
    while infos:
        try:
            transport = await _connect_once(protocol, infos, tls, clock)
        except ConnectFailed as exc:
            failed = ConnectFailed(host, port, exc.error)
            aiohappyeyeballs.pop_addr_infos_interleave(infos, None)
            continue
        clock.mark("conn_end")
        peer = transport.get_extra_info("peername")
        clock.peer_address = str(peer[0]) if peer else ""
        if tls is not None:
            clock.ssl_object = transport.get_extra_info("ssl_object")
        return transport
    assert failed is not None
    raise failed


async def _connect_once(
    protocol: asyncio.Protocol,
    infos: list[AddrInfo],
    tls: tuple[ssl.SSLContext, str] | None,
    clock: PhaseClock,
) -> asyncio.Transport:
    """One connection attempt over `infos`. A single address is connected by
    the loop itself (uvloop does it in C); several are raced."""
    loop = asyncio.get_running_loop()
    address = infos[0][4]
    try:
        if len(infos) == 1:
            transport, _ = await loop.create_connection(
                lambda: protocol, address[0], address[1], family=infos[0][0]
            )
        else:
            sock = await aiohappyeyeballs.start_connection(
                infos, happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY, loop=loop
            )
            transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
        clock.mark("tcp_connected")
        if tls is None:
            return transport
        try:
            secure = await loop.start_tls(transport, protocol, tls[0], server_hostname=tls[1])
        except BaseException:
            transport.abort()
            raise
        assert secure is not None
        return secure
    except OSError as exc:  # ssl.SSLError and its verification error included
        raise ConnectFailed(str(address[0]), int(address[1]), exc) from exc
