"""Host and port parsing, in one place, with three contracts:

- `split_host_port` reads addresses written in the checks file (a DNS
  server, a TLS target): the port may be left out, and a bare IPv6 address
  is allowed;
- `listen_address` reads the processes' listen flags: the port is required,
  and `:port` means loopback;
- `parse_connect_to` reads curl-style `--connect-to` overrides, which point
  the CLI's requests at local servers without changing the names they use.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>\d{1,5}))?$")


def split_host_port(value: str, default_port: int) -> tuple[str, int]:
    """Split `host:port`, `[v6]:port`, `host` or a bare IPv6 address.

    Raises ValueError with a message fit to show a user.
    """
    try:
        return str(ipaddress.IPv6Address(value)), default_port
    except ValueError:
        pass
    match = _HOST_PORT.match(value.strip())
    port = int(match.group("port")) if match and match.group("port") else default_port
    if match is None or not 1 <= port <= 65535:
        raise ValueError(f"bad address {value!r}: write host:port, e.g. 127.0.0.1:{default_port}")
    return match.group("v6") or match.group("host"), port


def is_ip_address(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address (not a name)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def join_host_port(host: str, port: int) -> str:
    """`host:port`, with an IPv6 address in brackets; `split_host_port` reads it back."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_address(address: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """A listen flag (`--grpc-listen`, `--http-listen`): `host:port`,
    `[v6]:port`, or `:port` for `default_host`. The port is required.
    ValueError if bad."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad address {address!r}: want host:port")
    return (host.strip("[]") or default_host), int(port)


def in_container() -> bool:
    """Whether VANTAGE_IN_CONTAINER (set by the image) says we run in a container."""
    return os.environ.get("VANTAGE_IN_CONTAINER", "").lower() in {"1", "true", "yes"}


def default_listen(port: int) -> str:
    """A process's default listen address: every interface in a container,
    where the port is only reachable through the container's network, and
    loopback elsewhere, so nothing is exposed by accident."""
    return f"{'0.0.0.0' if in_container() else '127.0.0.1'}:{port}"  # noqa: S104


_CONNECT_TO = re.compile(
    r"^(?P<host>\[[^\]]+\]|[^:\[\]]*):(?P<port>\d*):(?P<to_host>\[[^\]]+\]|[^:\[\]]*):(?P<to_port>\d*)$"
)


@dataclass(frozen=True)
class ConnectTo:
    """One curl `--connect-to HOST1:PORT1:HOST2:PORT2` rule: requests for
    HOST1:PORT1 connect to HOST2:PORT2 instead, while the URL, the Host
    header, SNI and certificate checks keep HOST1. An empty HOST1 or PORT1
    matches any; an empty HOST2 or PORT2 keeps the original."""

    host: str
    port: int | None
    to_host: str
    to_port: int | None

    def apply(self, host: str, port: int) -> tuple[str, int] | None:
        """Where to connect for `host:port`, or None when the rule does not match."""
        if (self.host and self.host.lower() != host.lower()) or self.port not in (None, port):
            return None
        return self.to_host or host, self.to_port or port


def parse_connect_to(value: str) -> ConnectTo:
    """Parse a `--connect-to` value; ValueError with a message for a user."""
    match = _CONNECT_TO.match(value.strip())
    ports = [match.group(k) for k in ("port", "to_port")] if match else []
    if match is None or any(p and not 1 <= int(p) <= 65535 for p in ports):
        raise ValueError(
            f"bad --connect-to {value!r}: write HOST:PORT:ADDR:PORT, "
            "e.g. example.com:443:127.0.0.1:8443"
        )
    host, to_host = (match.group(k).strip("[]") for k in ("host", "to_host"))
    port, to_port = (int(p) if p else None for p in ports)
    return ConnectTo(host, port, to_host, to_port)


def connect_target(rules: Sequence[ConnectTo], host: str, port: int) -> tuple[str, int]:
    """Where to connect for `host:port`: the first matching rule, as curl
    does, else the address itself."""
    for rule in rules:
        target = rule.apply(host, port)
        if target is not None:
            return target
    return host, port
