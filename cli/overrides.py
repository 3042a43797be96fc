"""Network overrides for the CLI: `--connect-to` (curl's meaning) and
`--dns-server`, so `vantage audit` and `vantage smoke` can be pointed at
local servers while every URL, SNI and certificate check keeps its real name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.probe_kit.base import Nameserver
from agent.probe_kit.http_client import new_session
from agent.probe_kit.http_wire import Session
from agent.probe_kit.resolve import (
    Address,
    NameserverResolver,
    Resolver,
    SystemResolver,
    as_address,
)
from common.addresses import (
    ConnectTo,
    connect_target,
    is_ip_address,
    join_host_port,
    parse_connect_to,
    split_host_port,
)
from common.config import CheckBase
from common.config.dns import dns_server
from common.config.tls import TlsCheck


@dataclass(frozen=True)
class Overrides:
    """Where names resolve and connections go; empty means the system's."""

    connect_to: tuple[ConnectTo, ...] = ()
    dns_server: Nameserver | None = None

    @classmethod
    def parse(cls, connect_to: Sequence[str] = (), server: str | None = None) -> Overrides:
        """From the flags' text; ValueError naming the bad value."""
        where = split_host_port(dns_server(server), 53) if server else None
        return cls(tuple(parse_connect_to(rule) for rule in connect_to), where)

    def target(self, host: str, port: int) -> tuple[str, int]:
        """Where a connection to `host:port` goes."""
        return connect_target(self.connect_to, host, port)


class ConnectToResolver:
    """Applies `--connect-to` rules, then looks the target up with the
    `--dns-server` (the probes' own NameserverResolver) or the system; the
    connection port comes from the rule."""

    def __init__(self, overrides: Overrides) -> None:
        self.overrides = overrides
        server = overrides.dns_server
        self._names: Resolver = NameserverResolver(server) if server else SystemResolver()

    async def resolve(self, host: str, port: int, family: int) -> list[Address]:
        """Addresses to connect to for `host:port`."""
        to_host, to_port = self.overrides.target(host, port)
        if not is_ip_address(to_host):
            return await self._names.resolve(to_host, to_port, family)
        return [as_address(to_host, to_port)]


def session_factory(
    overrides: Overrides,
) -> Callable[[int, Nameserver | None], Session]:
    """A ProbeContext session factory whose sessions apply `overrides`."""

    def make(family: int, nameserver: Nameserver | None) -> Session:
        del nameserver  # the overrides carry it
        return new_session(family, resolver=ConnectToResolver(overrides))

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
