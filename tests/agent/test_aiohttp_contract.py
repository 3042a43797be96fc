"""The HTTP probe's connector leans on aiohttp internals (agent/probe_kit/
http_phases.py: `_wrap_create_connection`, `_create_connection`,
`_resolve_host`, `_local_addr_infos`, `_socket_factory`, `_loop`) to mark
phases and to connect plain single-address HTTP in the loop's C code.
bench shows that path is worth it (2,806 vs 1,764 probes per CPU-second at
concurrency 1, 3,359 vs 3,079 at 64, same run, docs/performance.md). These
tests fail on an aiohttp upgrade that changes what it relies on, so the pin
is moved only together with the connector."""

from __future__ import annotations

import inspect
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from agent.probe_kit import http_phases
from agent.probe_kit.http_client import new_session
from agent.probes import ProbeContext
from agent.runner import run_probe
from common.config.http import HttpCheck
from tests.agent.conftest import ServeApp


def test_the_connector_methods_it_overrides_still_exist() -> None:
    for name in ("_wrap_create_connection", "_create_connection", "_resolve_host"):
        assert callable(getattr(aiohttp.TCPConnector, name, None)), name
    source = inspect.getsource(aiohttp.TCPConnector._create_direct_connection)
    call = source[source.index("self._wrap_create_connection(") :]
    for keyword in ("addr_infos=", "req=", "timeout=", "client_error="):
        assert keyword in call[:600], f"aiohttp no longer passes {keyword}"


async def test_the_attributes_it_reads_are_set_on_a_connector() -> None:
    connector = aiohttp.TCPConnector()
    try:
        for name in ("_local_addr_infos", "_socket_factory", "_loop"):
            assert hasattr(connector, name), name
    finally:
        await connector.close()


async def test_a_plain_http_probe_takes_the_fast_path_and_times_its_phases(
    serve_app: ServeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = web.Application()

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", ok)
    url = await serve_app(app)
    calls: list[str] = []
    original = http_phases.PhaseConnector._plain_connect

    async def spy(self: http_phases.PhaseConnector, *args: Any, **kwargs: Any) -> Any:
        calls.append("plain")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(http_phases.PhaseConnector, "_plain_connect", spy)
    ctx = ProbeContext("agent-1", "eu-west", env={}, session_factory=new_session)
    try:
        result = await run_probe(HttpCheck(name="home", url=f"{url}/"), ctx)
    finally:
        await ctx.close()
    assert result.success, result.message
    assert calls == ["plain"]
    assert result.phases.HasField("connect") and result.phases.HasField("processing")
