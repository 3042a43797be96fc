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

from aiohttp.abc import AbstractResolver, ResolveResult

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


class NameserverResolver(AbstractResolver):
    """aiohttp's resolver interface over `resolve`."""

    def __init__(self, nameserver: Nameserver, timeout: float = 5.0) -> None:
        self.nameserver = nameserver
        self.timeout = timeout

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Every address of `host`, as aiohttp wants them."""
        addresses = await resolve(host, self.nameserver, family, self.timeout)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release: every query opens its own socket."""


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
