"""Network overrides for the CLI: `--connect-to` (curl's meaning) and
`--dns-server`, so `vantage audit` and `vantage smoke` can be pointed at
local servers while every URL, SNI and certificate check keeps its real name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
import dns.exception
from aiohttp.abc import AbstractResolver, ResolveResult

from agent.probe_kit.dns_client import answers, query
from agent.probe_kit.http_client import new_session
from common.addresses import (
    ConnectTo,
    connect_target,
    join_host_port,
    parse_connect_to,
    split_host_port,
)
from common.config import CheckBase
from common.config.dns import dns_server
from common.config.tls import TlsCheck

_LOOKUP_SECONDS = 5.0


@dataclass(frozen=True)
class Overrides:
    """Where names resolve and connections go; empty means the system's."""

    connect_to: tuple[ConnectTo, ...] = ()
    dns_server: tuple[str, int] | None = None

    @classmethod
    def parse(cls, connect_to: Sequence[str] = (), server: str | None = None) -> Overrides:
        """From the flags' text; ValueError naming the bad value."""
        where = split_host_port(dns_server(server), 53) if server else None
        return cls(tuple(parse_connect_to(rule) for rule in connect_to), where)

    def target(self, host: str, port: int) -> tuple[str, int]:
        """Where a connection to `host:port` goes."""
        return connect_target(self.connect_to, host, port)

    def resolver(self) -> AbstractResolver | None:
        """An aiohttp resolver applying these overrides; None when there are none."""
        return OverrideResolver(self) if self.connect_to or self.dns_server else None


async def lookup_addresses(host: str, where: tuple[str, int], family: int) -> list[str]:
    """A and/or AAAA addresses of `host` from the DNS server `where`."""
    by_family: dict[int, tuple[str, ...]] = {socket.AF_INET: ("A",), socket.AF_INET6: ("AAAA",)}
    types = by_family.get(family, ("A", "AAAA"))
    found: list[str] = []
    for rdtype in types:
        try:
            response, _ = await query(host, rdtype, where, _LOOKUP_SECONDS)
        except (dns.exception.DNSException, OSError):
            continue
        found += answers(response, rdtype)
    return found


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class OverrideResolver(AbstractResolver):
    """Resolves through `--connect-to` rules first, then the `--dns-server`,
    then the system; the connection port comes from the rule."""

    def __init__(self, overrides: Overrides) -> None:
        self.overrides = overrides
        self._system = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Addresses to connect to for `host:port`."""
        to_host, to_port = self.overrides.target(host, port)
        if _is_ip(to_host):
            addresses = [to_host]
        elif self.overrides.dns_server is not None:
            addresses = await lookup_addresses(to_host, self.overrides.dns_server, family)
        else:
            return await self._system.resolve(to_host, to_port, family)
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{to_host}: no address")
        return [_result(host, address, to_port) for address in addresses]

    async def close(self) -> None:
        """Release the system resolver."""
        await self._system.close()


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(
        hostname=host, host=address, port=port, family=family, proto=0, flags=socket.AI_NUMERICHOST
    )


def session_factory(overrides: Overrides) -> Callable[[int], aiohttp.ClientSession]:
    """A ProbeContext session factory whose sessions apply `overrides`."""

    def make(family: int) -> aiohttp.ClientSession:
        return new_session(family, resolver=overrides.resolver())

    return make


def aim(check: CheckBase, overrides: Overrides) -> CheckBase:
    """`check` with `--connect-to` applied where the probe connects by
    itself: a `tls` target moves, its SNI and certificate name stay. HTTP
    checks go through the session's resolver instead."""
    if not isinstance(check, TlsCheck):
        return check
    host, port = check.address
    to_host, to_port = overrides.target(host, port)
    if (to_host, to_port) == (host, port):
        return check
    target = join_host_port(to_host, to_port)
    return check.model_copy(update={"target": target, "server_name": check.sni})
