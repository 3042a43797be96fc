"""Two collector shards and three agents on loopback, as real processes:
every check is evaluated by exactly one shard, and every result is counted
once (`vantage-collector --shard K/N`, `vantage-agent --collector a,b`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.shard import shard_of
from tests.support.net import free_port, get_json, http_get, wait_for
from tests.support.procs import Procs, agent_argv

pytestmark = pytest.mark.integration

REGIONS = ("eu-west", "us-east", "ap-south")
CHECKS = [f"svc-{i:02d}" for i in range(10)]
DOWN = "svc-down"


def write_config(path: Path, target: str, closed_port: int) -> Path:
    lines = [
        f"defaults: {{interval: 1s, timeout: 800ms, regions: [{', '.join(REGIONS)}]}}",
        "checks:",
        *(f"  - {{name: {c}, type: http, url: '{target}/healthz'}}" for c in CHECKS),
        f"  - {{name: {DOWN}, type: http, url: 'http://127.0.0.1:{closed_port}/'}}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def metric_sum(port: int, prefix: str) -> float:
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return sum(
        float(line.rpartition(" ")[2]) for line in body.splitlines() if line.startswith(prefix)
    )


def test_two_shards_evaluate_each_check_once_and_count_each_result_once(
    procs: Procs, demo_target: str, tmp_path: Path
) -> None:
    names = [*CHECKS, DOWN]
    owned = {k: {c for c in names if shard_of(c, 2) == k} for k in (0, 1)}
    assert owned[0] and owned[1], "the fixture's names must land on both shards"
    config = write_config(tmp_path / "checks.yaml", demo_target, free_port())
    shards = [
        procs.collector(
            config, name=f"shard-{k}", state=f"shard-{k}", env={"VANTAGE_SHARD": f"{k}/2"}
        )
        for k in (0, 1)
    ]
    collectors = ",".join(f"127.0.0.1:{grpc}" for _, grpc, _ in shards)
    agent_ports = []
    for region in REGIONS:
        port = free_port()
        argv = [*agent_argv(0, region, f"agent-{region}", port), "--flush-interval", "0.2"]
        argv[argv.index("--collector") + 1] = collectors
        argv += ["--state-dir", str(tmp_path / f"agent-{region}")]
        procs.start(f"agent-{region}", argv, {"VANTAGE_TOKEN": "test-token"})
        agent_ports.append(port)

    def shown(k: int) -> dict[str, set[str]]:
        state = get_json(f"http://127.0.0.1:{shards[k][2]}/api/v1/checks")
        return {
            c["name"]: {r for r, v in c["regions"].items() if r in REGIONS and v["last"]}
            for c in state["checks"]
        }

    wait_for(
        lambda: all(
            set(shown(k)) == owned[k] and all(v == set(REGIONS) for v in shown(k).values())
            for k in (0, 1)
        ),
        30,
        "each shard showing results of its own checks from every region",
    )

    # Evaluated once: the failing check's outage fires on its shard only.
    def down_alerts() -> list[int]:
        return [
            k
            for k in (0, 1)
            for a in get_json(f"http://127.0.0.1:{shards[k][2]}/api/v1/alerts")["alerts"]
            if DOWN in json.dumps(a) and "CheckDown" in json.dumps(a)
        ]

    fired = wait_for(down_alerts, 30, f"CheckDown for {DOWN}")
    assert fired == [shard_of(DOWN, 2)]

    # Counted once: each shard counts only its checks, none twice, and the
    # shards together never count more results than the agents produced.
    for k in (0, 1):
        http = shards[k][2]
        ingested = metric_sum(http, 'vantage_ingest_results_total{status="ok"}')
        assert metric_sum(http, 'vantage_ingest_results_total{status="duplicate"}') == 0
        assert metric_sum(http, 'vantage_ingest_results_total{status="unknown_check"}') == 0
        counted = metric_sum(http, "vantage_probe_results_total{")
        assert counted == pytest.approx(ingested, abs=100)  # read one after the other
        other = owned[1 - k]
        _, body = http_get(f"http://127.0.0.1:{http}/metrics")
        assert not [c for c in other if f'check="{c}"' in body]
    produced_before = sum(metric_sum(p, "vantage_agent_probes_total{") for p in agent_ports)
    wait_for(
        lambda: (
            sum(metric_sum(s[2], 'vantage_ingest_results_total{status="ok"}') for s in shards)
            >= produced_before
        ),
        20,
        "the shards to count what the agents produced",
    )
    counted_total = sum(
        metric_sum(s[2], 'vantage_ingest_results_total{status="ok"}') for s in shards
    )
    produced_after = sum(metric_sum(p, "vantage_agent_probes_total{") for p in agent_ports)
    assert produced_before <= counted_total <= produced_after
