"""Phase timing for HTTP probes: a clock per request, marked by the
connector that opens the request's fresh connection.

blackbox_exporter's phases are resolve, connect, tls, processing and
transfer. The connector marks DNS start and end (host names only), TCP
start (after the lookup), TCP connected (before a TLS handshake) and
connection end, and keeps the handshake's ssl object for certificate facts;
`fetch()` marks headers and done. The clock travels in a context variable:
aiohttp hands nothing of ours down to its connector.
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from aiohappyeyeballs import AddrInfoType
    from aiohttp.abc import ResolveResult
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.tracing import Trace


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

CLOCK: contextvars.ContextVar[PhaseClock | None] = contextvars.ContextVar("clock", default=None)
"""The clock of the request this task is making, if any."""


def _mark(name: str) -> None:
    clock = CLOCK.get()
    if clock is not None:
        clock.mark(name)


def _is_ip_literal(host: str) -> bool:
    # aiohttp's own test: it looks such hosts up neither in DNS nor in traces.
    return ":" in host or host.replace(".", "").isdigit()


class PhaseConnector(aiohttp.TCPConnector):
    """A connector that marks the current request's PhaseClock itself.

    Marking here instead of through a `TraceConfig` spares aiohttp building
    trace objects and sending signals on every request. Besides resolve and
    connection start/end it marks when TCP is connected, before the TLS
    handshake, which aiohttp's trace hooks cannot: aiohttp connects the
    socket, then calls `loop.create_connection(factory, sock=...)`, which
    builds the protocol and then runs the handshake.
    """

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace] | None = None
    ) -> list[ResolveResult]:
        if _is_ip_literal(host):
            return await super()._resolve_host(host, port, traces)
        _mark("dns_start")
        hosts = await super()._resolve_host(host, port, traces)
        _mark("dns_end")
        return hosts

    async def _create_connection(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109  # aiohttp's signature
    ) -> ResponseHandler:
        proto = await super()._create_connection(req, traces, timeout)
        _mark("conn_end")
        clock = CLOCK.get()
        if clock is not None and proto.transport is not None:
            peer = proto.transport.get_extra_info("peername")
            clock.peer_address = str(peer[0]) if peer else ""
        if clock is not None and clock.tls and proto.transport is not None:
            # Kept for certificate facts: a small body releases the
            # connection before the probe could ask the response for it.
            clock.ssl_object = proto.transport.get_extra_info("ssl_object")
        return proto

    async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> Any:
        _mark("tcp_start")  # after the lookup: connect excludes resolve, as in blackbox
        factory, *rest = args
        if kwargs.get("ssl") or len(kwargs["addr_infos"]) != 1 or self._custom_socket():
            return await super()._wrap_create_connection(_timed(factory), *rest, **kwargs)
        return await self._plain_connect(factory, **kwargs)

    def _custom_socket(self) -> bool:
        return self._local_addr_infos is not None or self._socket_factory is not None

    async def _plain_connect(
        self,
        factory: Callable[[], ResponseHandler],
        *,
        addr_infos: list[AddrInfoType],
        req: ClientRequest,
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109  # aiohttp's keyword arguments
        client_error: type[Exception] = aiohttp.ClientConnectorError,
        **_kwargs: Any,
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        """Plain TCP to one address, connected by the loop itself.

        There is nothing to race, so happy eyeballs has nothing to do; and
        uvloop connects in C, where aiohttp's path makes a Python socket,
        awaits `sock_connect`, then hands the socket to `create_connection`.
        That round trip was a fifth of a probe's CPU at concurrency 1.
        """
        family, _, proto, _, address = addr_infos[0]
        connect = self._loop.create_connection(
            factory, address[0], address[1], family=family, proto=proto
        )
        try:
            if timeout.sock_connect is None:  # as usual: the request's total bounds it
                return await connect
            async with asyncio.timeout(timeout.sock_connect):
                return await connect
        except OSError as exc:
            if exc.errno is None and isinstance(exc, TimeoutError):
                raise
            raise client_error(req.connection_key, exc) from exc


def _timed(factory: Callable[[], Any]) -> Callable[[], Any]:
    """`factory`, marking `tcp_connected` when the loop calls it."""

    def timed_factory() -> Any:
        _mark("tcp_connected")
        return factory()

    return timed_factory
