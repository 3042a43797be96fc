"""Host and port parsing, in one place, with two contracts:

- `split_host_port` reads addresses written in the checks file (a DNS
  server, a TLS target): the port may be left out, and a bare IPv6 address
  is allowed;
- `listen_address` reads the processes' listen flags: the port is required,
  and `:port` means loopback.
"""

from __future__ import annotations

import ipaddress
import os
import re

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
