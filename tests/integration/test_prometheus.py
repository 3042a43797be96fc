"""A real Prometheus (Debian's package) scrapes the collector."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.integration.test_fleet import write_config
from tests.support.net import wait_for
from tests.support.procs import ROOT, Procs
from tests.support.prom import query, start_prometheus

pytestmark = pytest.mark.integration


def test_promql_returns_p95_and_probe_success_per_region(
    procs: Procs, demo_target: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "checks.yaml", demo_target)
    _, grpc_port, http_port = procs.collector(config)
    _, agent_port = procs.agent(grpc_port, "eu-west")
    procs.agent(grpc_port, "us-east")
    targets = [f"127.0.0.1:{http_port}", f"127.0.0.1:{agent_port}"]
    prometheus = start_prometheus(procs, targets, tmp_path)

    p95 = 'vantage_check_latency_p95_seconds{check="home",region="all",window="5m"}'
    # The first sample shows up ~6 s after /-/ready: poll, never sleep a fixed time.
    result = wait_for(lambda: query(prometheus, p95), 45, "p95 in Prometheus", every=0.5)
    value = float(result[0]["value"][1])
    assert 0 < value < 1.0

    up = wait_for(
        lambda: len(r := query(prometheus, 'probe_success{check="home"} == 1')) == 2 and r,
        30,
        "probe_success for both regions",
        every=0.5,
    )
    assert {r["metric"]["region"] for r in up} == {"eu-west", "us-east"}

    # The agent writes its own text format (common.exposition): Prometheus reads it.
    probes = 'vantage_agent_probes_total{type="http",outcome="success"} > 0'
    wait_for(lambda: query(prometheus, probes), 30, "the agent's probe counter", every=0.5)
    connected = query(prometheus, "vantage_agent_collector_connected")
    assert [r["value"][1] for r in connected] == ["1"]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of the bundled Grafana dashboard, `$check` = all."""
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/vantage.json").read_text())
    return [
        (p["title"], re.sub(r"\$(check|region|service)\b", ".*", t["expr"]))
        for p in dashboard["panels"]
        for t in p["targets"]
    ]


MAY_BE_EMPTY = {
    "Days until certificate expiry",
    "Notifications by outcome",
    "DNS checks",
    "Email authentication (SPF, DKIM, DMARC)",
    "Flapping checks",
}
"""Panels with no data in a fleet of healthy plain-HTTP checks: no TLS, DNS
or email-auth check, nothing sent, nothing flapping."""


def test_every_dashboard_panel_queries_a_real_prometheus(
    procs: Procs, demo_target: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "checks.yaml", demo_target)
    _, grpc_port, http_port = procs.collector(config)
    procs.agent(grpc_port, "eu-west")
    prometheus = start_prometheus(procs, [f"127.0.0.1:{http_port}"], tmp_path)
    # rate() needs two scrapes: poll until it answers, rather than sleep.
    wait_for(
        lambda: query(prometheus, 'rate(vantage_probe_results_total{check="home"}[5m])'),
        45,
        "two scrapes of the collector",
        every=0.5,
    )
    empty = []
    for title, promql in dashboard_queries():
        if not query(prometheus, promql):  # query() fails on a PromQL error
            empty.append(title)
    assert set(empty) <= MAY_BE_EMPTY, empty
