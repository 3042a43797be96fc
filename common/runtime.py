"""Process start-up helpers shared by the agent, collector and CLI."""

from __future__ import annotations

import asyncio


def install_loop() -> None:
    """Use uvloop where it is available (it is a dependency on Linux)."""
    try:
        import uvloop  # noqa: PLC0415  # optional on other platforms
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def split_hostport(address: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`host:port` (or `[v6]:port`, or `:port`) into a pair; ValueError if bad."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad address {address!r}: want host:port")
    return (host.strip("[]") or default_host), int(port)
