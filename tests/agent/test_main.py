"""The agent process in one piece, never connected: its HTTP pages
(/, /healthz, /readyz, /metrics), the union of its collectors' configs, the
config saved for a restart, and the count of shed runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from agent import main as agent_main
from agent import settings, web
from agent.main import Agent
from agent.probes import icmp
from common.config.http import HttpCheck
from common.config.icmp import IcmpCheck
from common.exposition import CONTENT_TYPE
from common.wire import check_to_proto
from tests.support.net import free_port
from vantage.v1 import vantage_pb2 as pb

COLLECTORS = "127.0.0.1:1,127.0.0.1:2"


def config(version: str, *names: str, region: str = "eu-west") -> pb.Config:
    checks = [HttpCheck(name=n, url="http://127.0.0.1:1/", regions=(region,)) for n in names]
    return pb.Config(version=version, checks=[check_to_proto(c) for c in checks])


@pytest.fixture(autouse=True)
def no_heap_freeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """Freezing would keep the whole test session out of collections."""
    monkeypatch.setattr(agent_main, "settle_heap", lambda: None)


def make_agent(state: Path) -> Agent:
    argv = ["--collector", COLLECTORS, "--region", "eu-west", "--token", "t0ken"]
    listen = f"127.0.0.1:{free_port()}"
    extra = ["--agent-id", "agent-1", "--http-listen", listen, "--state-dir", str(state)]
    return Agent(settings.load([*argv, *extra]))


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    """An agent with two collectors, never connected; the first sent two checks."""
    a = make_agent(tmp_path / "state")
    a.apply_config(a.streams[0], config("v7", "home", "api"))
    yield a
    a.scheduler.stop()
    for stream in a.streams:
        stream.spool.close()
    await a.ctx.close()


async def get(agent: Agent, path: str, method: str = "GET") -> tuple[int, str, dict[str, str]]:
    server, listener = await web.start(agent)
    try:
        url = f"http://{agent.settings.http_listen}{path}"
        async with aiohttp.ClientSession() as session, session.request(method, url) as resp:
            return resp.status, await resp.text(), dict(resp.headers)
    finally:
        await web.stop(server, listener)


async def test_metrics_page_is_prometheus_text(agent: Agent) -> None:
    agent.metrics.probes.labels("http", "success").inc(3)
    status, text, headers = await get(agent, "/metrics")
    assert (status, headers["Content-Type"]) == (200, CONTENT_TYPE)
    lines = text.splitlines()
    for line in [
        "# TYPE vantage_agent_probes_total counter",
        'vantage_agent_probes_total{outcome="success",type="http"} 3.0',
        "vantage_agent_checks 2.0",
        'vantage_agent_spool_results{collector="127.0.0.1:1"} 0.0',
        'vantage_agent_spool_oldest_age_seconds{collector="127.0.0.1:2"} 0.0',
        "vantage_agent_spool_dropped_total 0.0",
        "vantage_agent_reconnects_total 0.0",
        'vantage_agent_config_info{collector="127.0.0.1:1",source="collector",version="v7"} 1.0',
    ]:
        assert line in lines, line
    assert "vantage_agent_spool_bytes" in text


async def test_the_union_of_configs_is_scheduled_and_each_result_goes_to_its_owner(
    agent: Agent,
) -> None:
    first, second = agent.streams
    agent.apply_config(second, config("s1", "api", "shop"))
    assert sorted(agent.scheduler.entries) == ["api", "home", "shop"]
    assert {n: s.collector for n, s in agent.owners.items()} == {
        "home": first.collector,
        "api": first.collector,
        "shop": second.collector,
    }
    for name in ("home", "shop", "gone"):
        agent.collect(pb.Result(check=name, started_at=1.0))
    assert (len(first.spool), len(second.spool)) == (1, 1)


async def test_readyz_is_503_until_every_stream_is_live_with_a_config(agent: Agent) -> None:
    status, text, _ = await get(agent, "/readyz")
    body = json.loads(text)
    assert (status, body["ready"], body["config"]) == (503, False, "collector")
    assert [c["config"] for c in body["collectors"]] == ["collector", "none"]
    for stream in agent.streams:
        stream.connected = True
    agent.apply_config(agent.streams[1], config("s1", "shop"))
    status, text, _ = await get(agent, "/readyz")
    assert (status, json.loads(text)["warnings"]) == (200, [])


async def test_a_restart_without_collectors_probes_on_the_saved_config(
    agent: Agent, tmp_path: Path
) -> None:
    for stream in agent.streams:
        stream.spool.close()
    agent.state.unlock()
    again = make_agent(tmp_path / "state")
    again.load_saved()
    try:
        assert sorted(again.scheduler.entries) == ["api", "home"]
        body = web.readiness(again)
        assert (body["ready"], body["config"]) == (False, "saved")
        assert "running on a saved config: a collector is unreachable" in body["warnings"]
    finally:
        again.scheduler.stop()
        for stream in again.streams:
            stream.spool.close()


def test_a_second_agent_on_the_same_state_dir_is_refused(agent: Agent) -> None:
    with pytest.raises(ValueError, match="in use by another agent"):
        make_agent(agent.settings.state_dir)


async def test_a_region_with_no_checks_is_warned_about(tmp_path: Path) -> None:
    a = make_agent(tmp_path / "s")
    a.apply_config(a.streams[0], config("v1", "home", region="us-east"))
    try:
        warning = "no checks are assigned to region 'eu-west'"
        assert a.idle_warning is not None and warning in a.idle_warning
        assert any(warning in w for w in web.readiness(a)["warnings"])
    finally:
        for stream in a.streams:
            stream.spool.close()


async def test_shed_runs_are_counted_for_the_owner_and_shown(agent: Agent) -> None:
    (check,) = [e.check for e in agent.scheduler.entries.values() if e.check.name == "home"]
    agent.shed(check, "late")
    assert agent.streams[0].runs_skipped == 1
    assert agent.metrics.skipped.labels("late").value == 1
    body = web.readiness(agent)
    assert body["shedding"] is True
    assert any("shedding runs" in w for w in body["warnings"])


async def test_root_page_names_the_agent_region_and_collectors(agent: Agent) -> None:
    status, text, headers = await get(agent, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for fragment in ["agent-1", "eu-west", "127.0.0.1:1", "127.0.0.1:2", "disconnected"]:
        assert fragment in text
    assert "http://" not in text and "https://" not in text  # no external assets


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/healthz", 200, '"status": "ok"'),
        ("HEAD", "/healthz", 200, ""),
        ("GET", "/metrics", 200, "# TYPE vantage_agent_checks gauge"),
        ("POST", "/metrics", 405, "405: Method Not Allowed"),
        ("GET", "/metrics/", 404, "404: Not Found"),
        ("GET", "/nope", 404, "404: Not Found"),
    ],
    ids=["healthz", "head", "metrics", "post", "trailing-slash", "unknown"],
)
async def test_http_server_routes_like_aiohttps_router(
    agent: Agent, method: str, path: str, status: int, body: str
) -> None:
    got, text, headers = await get(agent, path, method)
    assert got == status
    assert body in text
    if status == 405:
        assert headers["Allow"] == "GET,HEAD"


async def test_an_agent_that_cannot_ping_says_so_at_start_and_refuses_icmp_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(icmp, "preflight", lambda: "no ICMP socket: test")
    with capture_logs() as logs:
        a = make_agent(tmp_path / "state")
        ping = IcmpCheck(name="ping", target="127.0.0.1", regions=("eu-west",))
        home = HttpCheck(name="home", url="http://127.0.0.1:1/", regions=("eu-west",))
        a.apply_config(
            a.streams[0],
            pb.Config(version="v1", checks=[check_to_proto(ping), check_to_proto(home)]),
        )
    try:
        assert [c.name for c in a.applied["127.0.0.1:1"].checks] == ["home"]
        events = [
            (e["event"], e.get("error"), e.get("check")) for e in logs if e["log_level"] == "error"
        ]
        assert events == [
            ("agent.icmp_unavailable", "no ICMP socket: test", None),
            ("config.check_rejected", "no ICMP socket: test", "ping"),
        ]
    finally:
        a.scheduler.stop()
        for stream in a.streams:
            stream.spool.close()
        await a.ctx.close()


async def test_a_spool_that_cannot_be_written_never_stops_probing(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(_result: pb.Result) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(agent.streams[0].spool, "add", full)
    agent.collect(pb.Result(check="home", started_at=1.0))  # does not raise into the scheduler
    agent.collect(pb.Result(check="home", started_at=2.0))
    assert agent.metrics.spool_errors.series[()].value == 2
    assert agent.spool_failing is True
    monkeypatch.undo()
    agent.collect(pb.Result(check="home", started_at=3.0))
    assert agent.spool_failing is False
    assert len(agent.streams[0].spool) == 1
