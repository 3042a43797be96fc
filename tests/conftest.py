"""Fixtures shared by every test package."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from common import logs
from tests.support.net import free_port, http_get, wait_for
from tests.support.procs import Procs


@pytest.fixture(autouse=True)
def _logging_per_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from the logging configuration the last one found.

    A CLI or process entry point run in-process calls `logs.setup`, which in
    production caches each logger on first use. Under test that would freeze
    module loggers at that run's level and stream for every later test, so
    here `setup` keeps loggers uncached and the configuration is restored.
    """
    saved = structlog.get_config()
    original = logs.setup

    def setup_uncached(*args: object, **kwargs: object) -> None:
        original(*args, **kwargs)  # type: ignore[arg-type]
        structlog.configure(cache_logger_on_first_use=False)

    monkeypatch.setattr(logs, "setup", setup_uncached)
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()


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
