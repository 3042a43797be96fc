"""Name lookups against a configured nameserver instead of the system's.

The system resolver (glibc's getaddrinfo) folds a server that refuses, one
that fails and one that stays silent into one EAI_AGAIN, so a probe could
only guess the fault. With `ProbeContext.nameserver` set, probes that open
connections (`http`, `http_flow`, `tls`, ...) look names up here, over
dnspython, and a failed lookup names the fault exactly: dns_refused,
dns_nxdomain, dns_timeout or dns_error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Any, Protocol

from agent.probe_kit.base import Nameserver
from agent.probe_kit.faults import DnsAnswerError, Failure, failure
from common.faults import Fault
from vantage.v1 import vantage_pb2 as pb

_TYPES: dict[socket.AddressFamily, tuple[str, ...]] = {
    socket.AF_INET: ("A",),
    socket.AF_INET6: ("AAAA",),
    socket.AF_UNSPEC: ("A", "AAAA"),
}


class ResolveFailed(OSError):
    """A lookup failed; `failure` is its reason and message, already mapped."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure[1])
        self.failure = failure


async def resolve(host: str, nameserver: Nameserver, family: int, lifetime: float) -> list[str]:
    """The addresses of `host` (an IP literal is its own address), asking
    `nameserver`; ResolveFailed naming the fault when there are none."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    # Imported here: only agents with a nameserver set load dnspython for this.
    from agent.probe_kit.dns_client import answers, classify_query, query  # noqa: PLC0415

    found: list[str] = []
    try:
        async with asyncio.timeout(lifetime):
            for rdtype in _TYPES.get(socket.AddressFamily(family), _TYPES[socket.AF_UNSPEC]):
                response, _ = await query(host, rdtype, nameserver, lifetime)
                rcode = response.rcode()
                if rcode != 0:
                    import dns.rcode  # noqa: PLC0415

                    raise DnsAnswerError(host, dns.rcode.to_text(rcode))
                found += answers(response, rdtype)
    except Exception as exc:  # every failure becomes data
        reason, message = classify_query(exc)
        raise ResolveFailed((reason, f"cannot resolve {host}: {message}")) from exc
    if not found:
        raise ResolveFailed(classify_query(DnsAnswerError(host, "NODATA (no address)")))
    return found


_NUMERIC = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV

Address = tuple[int, tuple[Any, ...]]
"""(address family, socket address) of one place to connect to."""


class Resolver(Protocol):
    """How the HTTP client finds the addresses of a host name."""

    async def resolve(self, host: str, port: int, family: int) -> list[Address]:
        """Every address of `host:port` in `family` (AF_UNSPEC: any); an
        OSError when there is none."""


class SystemResolver:
    """The system's resolver (getaddrinfo, in the loop's thread pool)."""

    async def resolve(self, host: str, port: int, family: int) -> list[Address]:
        """Every address of `host`; socket.gaierror when there is none."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family, flags=socket.AI_ADDRCONFIG
        )
        found: list[Address] = []
        for fam, _, _, _, address in infos:
            if fam == socket.AF_INET6 and len(address) >= 4 and address[3]:
                # A link-local address needs its scope in the text form.
                name, service = await loop.getnameinfo(address, _NUMERIC)
                found.append((fam, (name, int(service), *address[2:])))
            else:
                found.append((fam, tuple(address)))
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "no usable address")
        return found


class NameserverResolver:
    """`resolve` against a configured nameserver, as the HTTP client asks."""

    def __init__(self, nameserver: Nameserver, timeout: float = 5.0) -> None:
        self.nameserver = nameserver
        self.timeout = timeout

    async def resolve(self, host: str, port: int, family: int) -> list[Address]:
        """Every address of `host`; ResolveFailed naming the fault when none."""
        addresses = await resolve(host, self.nameserver, family, self.timeout)
        return [as_address(address, port) for address in addresses]


def as_address(ip: str, port: int) -> Address:
    """The socket address of an IP in text form."""
    if ":" in ip:
        return socket.AF_INET6, (ip, port, 0, 0)
    return socket.AF_INET, (ip, port)


async def lookup(
    host: str, nameserver: Nameserver | None, phases: pb.Phases, lifetime: float
) -> str:
    """The address to connect to for a probe that opens its own socket
    (`tls`, `tcp`, ...): from `nameserver` when one is set, recording the
    `resolve` phase, else `host` as written for the system to look up."""
    if nameserver is None:
        return host
    started = time.monotonic()
    addresses = await resolve(host, nameserver, socket.AF_UNSPEC, lifetime)
    phases.resolve = time.monotonic() - started
    return addresses[0]


def unresolved(
    exc: BaseException, nameserver: Nameserver | None, phases: pb.Phases
) -> BaseException:
    """`exc`, or a DNS timeout when the check's time ran out during `lookup`."""
    if isinstance(exc, TimeoutError) and nameserver and not phases.HasField("resolve"):
        return ResolveFailed(failure(Fault.NO_ANSWER, "no answer from DNS before the timeout"))
    return exc
