"""A real collector and real agents on loopback, talking gRPC."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import grpc
import pytest
import trustme

from tests.support.net import get_json, http_get, wait_for
from tests.support.procs import Procs
from vantage.v1 import vantage_pb2 as pb
from vantage.v1 import vantage_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


def write_config(path: Path, target: str, extra: str = "") -> Path:
    path.write_text(f"""\
defaults: {{interval: 1s, timeout: 800ms, regions: [eu-west, us-east]}}
checks:
  - name: home
    type: http
    url: {target}/
    release_header: X-Release
    labels: {{service: portal, severity: critical}}
  - name: api-health
    type: http
    url: {target}/healthz
  - name: eu-only
    type: http
    url: {target}/healthz
    regions: [eu-west]
{extra}""")
    return path


def metric_lines(http_port: int) -> list[str]:
    status, body = http_get(f"http://127.0.0.1:{http_port}/metrics")
    assert status == 200
    return [line for line in body.splitlines() if not line.startswith("#")]


def has_series(lines: list[str], name: str, **labels: str) -> bool:
    def match(line: str) -> bool:
        return line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())

    return any(match(line) for line in lines)


def test_two_agents_stream_results_the_collector_serves_metrics_and_state(
    procs: Procs, demo_target: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "checks.yaml", demo_target)
    _, grpc_port, http_port = procs.collector(config)
    for region in ("eu-west", "us-east"):
        procs.agent(grpc_port, region)

    def all_series() -> bool:
        lines = metric_lines(http_port)
        wanted = [
            ("home", "eu-west"),
            ("home", "us-east"),
            ("api-health", "eu-west"),
            ("api-health", "us-east"),
            ("eu-only", "eu-west"),
        ]
        return all(
            has_series(lines, "probe_success", check=c, region=r)
            and has_series(
                lines, "vantage_check_latency_p95_seconds", check=c, region=r, window="5m"
            )
            for c, r in wanted
        )

    wait_for(all_series, 20, "probe_success and p95 for every check and region")
    lines = metric_lines(http_port)
    # Lines carry check and region; what a check probes is said once per check.
    assert 'probe_success{check="home",region="eu-west"} 1.0' in lines
    assert has_series(lines, "vantage_check_info", check="home", target=f"{demo_target}/")
    assert not has_series(lines, "probe_success", check="eu-only", region="us-east")
    for name, labels in [
        ("probe_duration_seconds", {"check": "home"}),
        ("probe_http_status_code", {"check": "home"}),
        ("vantage_check_latency_p95_seconds", {"check": "home", "region": "all", "window": "5m"}),
        ("vantage_check_error_ratio", {"check": "home", "region": "all", "window": "5m"}),
        ("vantage_probe_results_total", {"check": "home", "outcome": "success"}),
        ("vantage_agent_connected", {"agent": "agent-eu-west", "region": "eu-west"}),
    ]:
        assert has_series(lines, name, **labels), name

    state = get_json(f"http://127.0.0.1:{http_port}/api/v1/checks")
    home = next(c for c in state["checks"] if c["name"] == "home")
    eu = home["regions"]["eu-west"]
    assert eu["last"]["success"] is True and eu["last"]["status_code"] == 200
    assert eu["last"]["release"] == "demo-1.0.0"
    assert len(eu["last"]["request_id"]) == 32
    assert eu["windows"]["5m"]["error_ratio"] == 0.0
    assert 0 < eu["windows"]["5m"]["p95_seconds"] < 1
    assert home["regions"]["all"]["windows"]["5m"]["samples"] >= 2


def test_wrong_or_missing_token_is_unauthenticated_and_gets_no_config(
    procs: Procs, demo_target: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "checks.yaml", demo_target)
    _, grpc_port, http_port = procs.collector(config, tokens="right-token")

    async def attempt(metadata: tuple[tuple[str, str], ...]) -> tuple[grpc.StatusCode, list[str]]:
        received: list[str] = []
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            call = pb_grpc.CollectorStub(channel).Connect(metadata=metadata)
            try:
                # The collector may refuse before the Hello is even written.
                await call.write(pb.AgentMessage(hello=pb.Hello(agent_id="x", region="eu-west")))
                async for message in call:
                    received.append(str(message.WhichOneof("msg")))
            except grpc.aio.AioRpcError as exc:
                return exc.code(), received
        return grpc.StatusCode.OK, received

    for metadata in [(("authorization", "Bearer wrong"),), (), (("authorization", "right-token"),)]:
        code, received = asyncio.run(attempt(metadata))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert received == []

    agent, _ = procs.agent(grpc_port, "eu-west", token="wrong")
    assert agent.popen.wait(15) == 2  # a bad token is fatal: exit, do not retry forever
    assert "UNAUTHENTICATED" in agent.output()
    assert "wrong" not in agent.output().replace("Bearer", "")  # the token is never logged
    lines = metric_lines(http_port)
    assert any(
        line.startswith("vantage_agent_auth_failures_total") and not line.endswith(" 0.0")
        for line in lines
    )


def test_config_changes_are_pushed_and_a_bad_file_keeps_the_old_config(
    procs: Procs, demo_target: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "checks.yaml", demo_target)
    collector, grpc_port, http_port = procs.collector(config)
    _, agent_port = procs.agent(grpc_port, "eu-west")
    wait_for(
        lambda: get_json(f"http://127.0.0.1:{agent_port}/healthz")["checks"] == 3, 15, "3 checks"
    )

    extra = f"  - name: added\n    type: http\n    url: {demo_target}/slow\n"
    write_config(config, demo_target, extra)  # picked up by the file watcher
    wait_for(
        lambda: get_json(f"http://127.0.0.1:{agent_port}/healthz")["checks"] == 4, 15, "4 checks"
    )
    wait_for(
        lambda: has_series(metric_lines(http_port), "probe_success", check="added"), 15, "added"
    )

    good_version = get_json(f"http://127.0.0.1:{http_port}/api/v1/checks")["config_version"]
    config.write_text("checks:\n  - name: broken\n    type: http\n    url: nope\n")
    collector.popen.send_signal(signal.SIGHUP)
    wait_for(lambda: "config.reload_failed" in collector.output(), 10, "reload failure logged")
    failure = next(
        json.loads(line)
        for line in collector.output().splitlines()
        if "config.reload_failed" in line
    )
    assert failure["errors"] == [
        "checks.yaml:4: check 'broken': field 'url': bad URL 'nope': the scheme must be http or https"
    ]
    assert get_json(f"http://127.0.0.1:{http_port}/api/v1/checks")["config_version"] == good_version
    assert get_json(f"http://127.0.0.1:{agent_port}/healthz")["checks"] == 4


def test_agents_reach_a_tls_collector_only_when_they_trust_it(
    procs: Procs, demo_target: str, tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    config = write_config(tmp_path / "checks.yaml", demo_target)
    tls = {
        "VANTAGE_TLS_CERT": str(tmp_path / "cert.pem"),
        "VANTAGE_TLS_KEY": str(tmp_path / "key.pem"),
    }
    _, grpc_port, http_port = procs.collector(config, env=tls)
    _, trusting = procs.agent(
        grpc_port, "eu-west", env={"VANTAGE_TLS_CA": str(tmp_path / "ca.pem")}
    )
    plaintext, _ = procs.agent(grpc_port, "us-east")
    wait_for(
        lambda: has_series(metric_lines(http_port), "probe_success", region="eu-west"),
        20,
        "results over TLS",
    )
    assert get_json(f"http://127.0.0.1:{trusting}/healthz")["collector_connected"] is True
    assert not has_series(metric_lines(http_port), "probe_success", region="us-east")
    # It keeps trying, and probing (polled: a loaded machine starts it late).
    wait_for(lambda: "stream.reconnect_scheduled" in plaintext.output(), 20, "the plaintext retry")
