"""Fixtures shared by every test package."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port, http_get, wait_for
from tests.support.procs import Procs


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Real processes, stopped at teardown; their logs are in tmp_path."""
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.stop_all()


@pytest.fixture
def demo_target(procs: Procs) -> str:
    """The bundled demo target as its own process; returns its base URL."""
    port = free_port()
    procs.start(
        "demo-target", [sys.executable, "-m", "deploy.demo.target", "--listen", f"127.0.0.1:{port}"]
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(f"{url}/healthz")[0] == 200, 10, "demo target")
    return url
