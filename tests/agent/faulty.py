"""Faulty servers on loopback, one per fault in the failure vocabulary, for
the probe contract test and the smoke demo: a closed port, a port that
accepts and says nothing, one that answers garbage, TLS servers with a
wrong-hostname and an expired certificate (trustme), and a DNS server that
answers REFUSED, NXDOMAIN or nothing, by the name asked."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import trustme

from tests.support.net import free_port

DNS_ZONE = "fault.test"
"""Names under it: `refused.`, `nxdomain.`, `silent.` do what they say;
`ok.` has A 127.0.0.1 and AAAA 2001:db8::1."""
_OK = {1: "127.0.0.1", 28: "2001:db8::1"}


@dataclass(frozen=True)
class Faulty:
    """Where each fault lives."""

    refused: int
    hanging: int
    garbage: int
    wrong_hostname: int
    expired: int
    dns: tuple[str, int]
    ca_file: str


class _Dns(asyncio.DatagramProtocol):
    """Answers by the first label of the name asked."""

    transport: asyncio.DatagramTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        label = query.question[0].name.labels[0].decode()
        if label == "silent":
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if label == "refused":
            response.set_rcode(dns.rcode.REFUSED)
        elif label == "ok" and query.question[0].rdtype in _OK:
            rdtype = dns.rdatatype.to_text(query.question[0].rdtype)
            response.answer.append(
                dns.rrset.from_text(
                    query.question[0].name, 60, "IN", rdtype, _OK[query.question[0].rdtype]
                )
            )
        elif label != "ok":
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        await reader.read()  # until the client gives up
    writer.close()


async def _garbage(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"\x00\x01GARBAGE not a protocol\r\n\r\n")
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


async def _hello(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _tracked(handler: Handler, writers: set[asyncio.StreamWriter]) -> Handler:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            await handler(reader, writer)
        finally:
            writers.discard(writer)

    return run


def _context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    # h2 too, so a gRPC client gets as far as checking the certificate.
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


@contextlib.asynccontextmanager
async def faulty_servers(tmp: Path) -> AsyncIterator[Faulty]:
    """Start every faulty server in the running loop; stop them on exit."""
    ca = trustme.CA()
    ca_file = tmp / "fault-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    now = datetime.now(UTC)
    wrong = ca.issue_cert("other.test")
    expired = ca.issue_cert(
        "127.0.0.1", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    servers = []
    ports = {}
    # Connections still open at exit are aborted: a client whose library
    # closes its socket from its own threads (grpc) may not have yet.
    writers: set[asyncio.StreamWriter] = set()
    for name, handler, context in (
        ("hanging", _hold, None),
        ("garbage", _garbage, None),
        ("wrong_hostname", _hello, _context(wrong)),
        ("expired", _hello, _context(expired)),
    ):
        server = await asyncio.start_server(_tracked(handler, writers), "127.0.0.1", 0, ssl=context)
        servers.append(server)
        ports[name] = server.sockets[0].getsockname()[1]
    dns_port = free_port()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        _Dns, local_addr=("127.0.0.1", dns_port)
    )
    try:
        yield Faulty(
            refused=free_port(), dns=("127.0.0.1", dns_port), ca_file=str(ca_file), **ports
        )
    finally:
        transport.close()
        for server in servers:
            server.close()
        for writer in list(writers):
            writer.transport.abort()
        await asyncio.sleep(0)  # let the handlers see the abort and end


@contextlib.contextmanager
def faulty_servers_in_thread(tmp: Path) -> Iterator[Faulty]:
    """The faulty servers in a loop of their own thread, for tests that run
    a probing process (`vantage smoke`) against them."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[Faulty] = concurrent.futures.Future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with faulty_servers(tmp) as servers:
            ready.set_result(servers)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()
