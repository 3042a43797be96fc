"""Shared by the fault tests: a target that counts the probes it serves,
and a TCP proxy the test controls, to cut or blackhole a link."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.support import CountingTarget, TcpProxy

__all__ = ["counting_target", "proxy_factory"]


@pytest.fixture
def counting_target() -> Iterator[CountingTarget]:
    """A loopback HTTP target counting requests per path."""
    target = CountingTarget()
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def proxy_factory() -> Iterator[type[TcpProxy]]:
    """Make TcpProxy(upstream_port) instances; all closed at teardown."""
    made: list[TcpProxy] = []

    class Tracked(TcpProxy):
        def __init__(self, upstream_port: int) -> None:
            super().__init__(upstream_port)
            made.append(self)

    yield Tracked
    for proxy in made:
        proxy.close()
