"""Shared by the fault tests: a target that counts the probes it serves,
a TCP proxy the test controls, to cut or blackhole a link, a webhook sink
for pages, and the collector-side rig (tests/faults/rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.rig import Rig, config_text
from tests.faults.support import CountingTarget, TcpProxy
from tests.support.procs import Procs
from tests.support.recorder import Recorder, recorder

__all__ = ["counting_target", "proxy_factory", "rig", "sink"]


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


@pytest.fixture
def sink() -> Iterator[Recorder]:
    """A webhook receiver recording every notification."""
    with recorder() as rec:
        yield rec


@pytest.fixture
def rig(procs: Procs, counting_target: CountingTarget, sink: Recorder, tmp_path: Path) -> Rig:
    """A collector-side fault rig: config written, nothing started yet."""
    config = tmp_path / "checks.yaml"
    config.write_text(config_text(counting_target, sink))
    return Rig(procs, config, counting_target, sink)
