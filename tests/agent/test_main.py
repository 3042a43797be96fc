"""The agent's own HTTP endpoints: /metrics in the Prometheus text format
and /healthz, after a config is applied."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from agent import main as agent_main
from agent import memory, settings
from agent.main import Agent, _stop_http
from common.config.http import HttpCheck
from common.exposition import CONTENT_TYPE
from common.wire import check_to_proto
from tests.support.net import free_port
from vantage.v1 import vantage_pb2 as pb


@pytest.fixture
def memory_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the agent asked of `agent.memory` and `settle_heap`, not done for real
    here: freezing would keep the whole test session out of collections."""
    calls: list[str] = []

    def release() -> int:
        calls.append("release")
        return 0

    monkeypatch.setattr(agent_main, "settle_heap", lambda: calls.append("freeze"))
    monkeypatch.setattr(memory, "release_unused_pages", release)
    return calls


@pytest.fixture
async def agent(memory_calls: list[str]) -> AsyncIterator[Agent]:
    """An agent (never connected) running two checks of config `v7`."""
    argv = ["--collector", "127.0.0.1:1", "--region", "eu-west", "--token", "t0ken"]
    listen = f"127.0.0.1:{free_port()}"
    a = Agent(settings.load([*argv, "--agent-id", "agent-1", "--http-listen", listen]))
    checks = [
        HttpCheck(name=name, url="http://127.0.0.1:1/", regions=("eu-west",))
        for name in ("home", "api")
    ]
    a.apply_config(pb.Config(version="v7", checks=[check_to_proto(c) for c in checks]))
    yield a
    a.scheduler.stop()
    await a.ctx.close()


async def test_metrics_page_is_prometheus_text(agent: Agent) -> None:
    agent.metrics.probes.labels("http", "success").inc(3)
    response = await agent.metrics_page(make_mocked_request("GET", "/metrics"))
    assert response.headers["Content-Type"] == CONTENT_TYPE
    assert isinstance(response.body, bytes)
    lines = response.body.decode().splitlines()
    for line in [
        "# TYPE vantage_agent_probes_total counter",
        'vantage_agent_probes_total{outcome="success",type="http"} 3.0',
        "vantage_agent_checks 2.0",
        "vantage_agent_collector_connected 0.0",
        "vantage_agent_spool_results 0.0",
        "vantage_agent_reconnects_total 0.0",
        "vantage_agent_results_dropped_total 0.0",
        'vantage_agent_config_info{version="v7"} 1.0',
    ]:
        assert line in lines, line


async def test_a_new_config_replaces_the_version_series(agent: Agent) -> None:
    agent.apply_config(pb.Config(version="v8"))
    response = await agent.metrics_page(make_mocked_request("GET", "/metrics"))
    assert isinstance(response.body, bytes)
    text = response.body.decode()
    assert 'vantage_agent_config_info{version="v8"} 1.0' in text
    assert "v7" not in text
    assert "vantage_agent_checks 0.0" in text


async def test_start_up_objects_are_frozen_once_and_pages_released_per_config(
    agent: Agent, memory_calls: list[str]
) -> None:
    assert memory_calls == ["freeze", "release"]
    agent.apply_config(pb.Config(version="v8"))
    assert memory_calls == ["freeze", "release", "release"]


async def test_healthz_reports_checks_and_connection(agent: Agent) -> None:
    response = await agent.health(make_mocked_request("GET", "/healthz"))
    assert response.text is not None
    assert json.loads(response.text) == {
        "status": "ok",
        "agent": "agent-1",
        "region": "eu-west",
        "collector_connected": False,
        "checks": 2,
        "spooled_results": 0,
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/healthz", 200, '"status": "ok"'),
        ("HEAD", "/healthz", 200, ""),
        ("GET", "/metrics", 200, "# TYPE vantage_agent_checks gauge"),
        ("POST", "/metrics", 405, "405: Method Not Allowed"),
        ("GET", "/metrics/", 404, "404: Not Found"),
        ("GET", "/", 404, "404: Not Found"),
    ],
    ids=["healthz", "head", "metrics", "post", "trailing-slash", "root"],
)
async def test_http_server_routes_like_aiohttps_router(
    agent: Agent, method: str, path: str, status: int, body: str
) -> None:
    server, listener = await agent._start_http()
    try:
        url = f"http://{agent.settings.http_listen}{path}"
        async with aiohttp.ClientSession() as session, session.request(method, url) as resp:
            text = await resp.text()
            assert resp.status == status
            assert body in text
            if status == 405:
                assert resp.headers["Allow"] == "GET,HEAD"
    finally:
        await _stop_http(server, listener)
