"""The `icmp` probe: a burst of echo requests; RTT per reply and loss.

Sockets, in order of preference:
- the unprivileged ICMP socket (`SOCK_DGRAM`), which Linux allows to the
  groups in `net.ipv4.ping_group_range` (the kernel sets the echo id);
- a raw socket, which needs `CAP_NET_RAW` (we set the id and filter replies).

`preflight()` says at agent start when neither works, so the agent refuses
icmp checks with a clear error instead of running checks that can only
fail. Library errors become failure reasons in `classify` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.probe_kit.base import (
    Nameserver,
    ProbeContext,
    assertion,
    fail,
    finish_assertions,
    new_result,
)
from agent.probe_kit.faults import Failure
from agent.probe_kit.faults import classify as classify_shared
from agent.probe_kit.resolve import lookup, unresolved
from common.config.icmp import IcmpCheck
from vantage.v1 import vantage_pb2 as pb

# request, reply types
_ECHO: dict[int, tuple[int, int]] = {socket.AF_INET: (8, 0), socket.AF_INET6: (128, 129)}
_PROTO: dict[int, int] = {
    socket.AF_INET: socket.IPPROTO_ICMP,
    socket.AF_INET6: socket.IPPROTO_ICMPV6,
}
_IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)  # Linux's value; Python does not export it
_PAYLOAD = b"vantage-icmp-probe"
FIX = (
    "allow the agent's group in net.ipv4.ping_group_range (e.g. sysctl -w "
    "net.ipv4.ping_group_range='0 2147483647') or grant it CAP_NET_RAW"
)
"""What an operator does when no ICMP socket can be opened."""


class IcmpUnavailable(OSError):
    """Neither an unprivileged ICMP socket nor a raw one can be opened."""


def classify(exc: BaseException) -> Failure:
    """The error mapper: socket errors by the shared table (an unreachable
    network, a name that does not resolve)."""
    return classify_shared(exc, connected=False)


Opener = Callable[[int, int], socket.socket]


def open_socket(
    family: int, opener: Opener = lambda f, t: socket.socket(f, t, _PROTO[f])
) -> tuple[socket.socket, bool]:
    """An ICMP socket for `family` and whether it is raw: the unprivileged
    one first, then raw; IcmpUnavailable naming both refusals otherwise."""
    errors = []
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            return opener(family, kind), kind == socket.SOCK_RAW
        except OSError as exc:  # EACCES outside ping_group_range, EPERM without CAP_NET_RAW
            errors.append(exc.strerror or str(exc))
    raise IcmpUnavailable(f"no ICMP socket: unprivileged: {errors[0]}; raw: {errors[1]}; {FIX}")


def preflight(opener: Opener | None = None) -> str | None:
    """Why this process cannot ping (IPv4), or None when it can."""
    try:
        sock, _ = open_socket(socket.AF_INET, opener) if opener else open_socket(socket.AF_INET)
    except IcmpUnavailable as exc:
        return str(exc)
    sock.close()
    return None


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(family: int, ident: int, seq: int) -> bytes:
    """An echo request; the checksum is ours for IPv4 (the kernel computes
    ICMPv6's, which covers a pseudo-header)."""
    kind = _ECHO[family][0]
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == socket.AF_INET6:
        return header + _PAYLOAD
    return struct.pack("!BBHHH", kind, 0, checksum(header + _PAYLOAD), ident, seq) + _PAYLOAD


async def probe(check: IcmpCheck, ctx: ProbeContext) -> pb.Result:
    """Send `check.packets` echo requests to `check.target`; judge the replies."""
    result = new_result(check, ctx)
    started = time.monotonic()
    try:
        async with asyncio.timeout(check.timeout):
            await _ping(check, result, started, ctx.nameserver)
    except TimeoutError as exc:
        if not result.phases.HasField("connect"):  # still looking the name up
            return fail(result, *classify(unresolved(exc, ctx.nameserver, result.phases)))
        # the check's time is up: replies still out count as lost
    except OSError as exc:
        return fail(result, *classify(exc))
    finally:
        result.duration_seconds = time.monotonic() - started
    return _judge(result, check)


async def _ping(
    check: IcmpCheck, result: pb.Result, started: float, nameserver: Nameserver | None
) -> None:
    if nameserver is None:
        family, address = await _resolve(check)
        result.phases.resolve = time.monotonic() - started
    else:
        address = await lookup(check.target, nameserver, result.phases, check.timeout)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
    result.icmp.address = address
    sock, raw = open_socket(family)
    with sock:
        sock.setblocking(False)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        elif not raw:  # a raw IPv4 socket reads the TTL from the IP header
            sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
        result.icmp.raw_socket = raw
        result.phases.connect = time.monotonic() - started - result.phases.resolve
        pinger = _Pinger(sock, family, raw, check, result)
        receiver = asyncio.create_task(pinger.receive())
        try:
            await pinger.send(address)
            await receiver
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver


async def _resolve(check: IcmpCheck) -> tuple[int, str]:
    families = {4: socket.AF_INET, 6: socket.AF_INET6, "any": socket.AF_UNSPEC}
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(check.target, None, family=families[check.ip_version])
    family, *_, sockaddr = infos[0]
    return family, str(sockaddr[0])


@dataclass
class _Pinger:
    """One burst on one socket: send times by sequence number, and replies."""

    sock: socket.socket
    family: int
    raw: bool
    check: IcmpCheck
    result: pb.Result
    ident: int = field(default_factory=lambda: os.getpid() & 0xFFFF)
    sent: dict[int, float] = field(default_factory=dict)
    answered: set[int] = field(default_factory=set)

    async def send(self, address: str) -> None:
        """Send the burst, `spacing` apart."""
        for seq in range(1, self.check.packets + 1):
            if seq > 1:
                await asyncio.sleep(self.check.spacing)
            self.sent[seq] = time.monotonic()
            packet = echo_request(self.family, self.ident, seq)
            # A plain non-blocking sendto: uvloop has no sock_sendto, and a
            # datagram this small only blocks on a full send buffer.
            while True:
                try:
                    self.sock.sendto(packet, (address, 0))
                    break
                except BlockingIOError:
                    await _ready(self.sock, write=True)
            self.result.icmp.sent += 1

    async def receive(self) -> None:
        """Collect replies until every request is answered (or the caller's
        timeout cancels the wait)."""
        while len(self.answered) < self.check.packets:
            data, ancillary = await _recvmsg(self.sock)
            now = time.monotonic()
            hop_limit, icmp = _split(self.family, self.raw, data, ancillary)
            if len(icmp) < 8:
                continue
            kind, _, _, got_id, seq = struct.unpack("!BBHHH", icmp[:8])
            # A raw socket sees every ICMP packet (our own requests on
            # loopback too); the unprivileged socket only its own replies.
            if kind != _ECHO[self.family][1] or (self.raw and got_id != self.ident):
                continue
            if seq in self.sent and seq not in self.answered:
                self.answered.add(seq)
                details = self.result.icmp
                details.rtt_seconds.append(now - self.sent[seq])
                details.received += 1
                details.reply_hop_limit = hop_limit


async def _recvmsg(sock: socket.socket) -> tuple[bytes, list[tuple[int, int, bytes]]]:
    while True:
        try:
            data, ancillary, _, _ = sock.recvmsg(2048, socket.CMSG_SPACE(4))
            return data, ancillary
        except BlockingIOError:
            await _ready(sock)


async def _ready(sock: socket.socket, write: bool = False) -> None:
    """Wait until `sock` is readable (or writable)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    add, remove = (
        (loop.add_writer, loop.remove_writer) if write else (loop.add_reader, loop.remove_reader)
    )
    add(sock.fileno(), wake)
    try:
        await ready
    finally:
        remove(sock.fileno())


def _split(
    family: int, raw: bool, data: bytes, ancillary: list[tuple[int, int, bytes]]
) -> tuple[int, bytes]:
    """The reply's TTL/hop limit and its ICMP message."""
    if family == socket.AF_INET and raw:
        header = (data[0] & 0x0F) * 4
        return data[8], data[header:]
    hop_limit = next((int.from_bytes(value[:4], "little") for _, _, value in ancillary), 0)
    return hop_limit, data


def _judge(result: pb.Result, check: IcmpCheck) -> pb.Result:
    details, want = result.icmp, check.expect
    enough = details.received >= want.min_replies
    message = f"{details.received} of {details.sent} replies, want at least {want.min_replies}"
    assertion(result, "icmp.replies", enough, "" if enough else message)
    if want.max_rtt is not None and details.rtt_seconds:
        slowest = max(details.rtt_seconds)
        ok = slowest <= want.max_rtt
        why = f"slowest reply {slowest * 1000:.1f} ms, want at most {want.max_rtt * 1000:g} ms"
        assertion(result, "icmp.max_rtt", ok, "" if ok else why)
    return finish_assertions(result)
