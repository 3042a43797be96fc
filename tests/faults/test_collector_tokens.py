"""Tokens change without a restart: a token removed from the tokens file
closes its agent's stream at the next SIGHUP, and the agent stops."""

from __future__ import annotations

import signal

import pytest

from tests.support.net import free_port, http_get, wait_for
from tests.support.procs import Procs, collector_argv

pytestmark = pytest.mark.integration

KEPT, REMOVED = "fake-kept-token", "fake-removed-token"


def test_a_token_removed_from_the_file_closes_its_stream_on_sighup(procs: Procs) -> None:
    config = procs.tmp / "checks.yaml"
    config.write_text(
        "defaults: {interval: 1s, timeout: 500ms, regions: [eu-west, us-east]}\n"
        "checks:\n  - {name: home, type: http, url: 'http://127.0.0.1:9/'}\n"
    )
    tokens = procs.tmp / "agent-tokens"
    tokens.write_text(f"# agents\n{KEPT}\n{REMOVED}\n")
    grpc_port, http_port = free_port(), free_port()
    argv = collector_argv(config, grpc_port, http_port, procs.tmp / "state")
    collector = procs.start(
        "collector", [*argv, "--agent-tokens-file", str(tokens)], {"VANTAGE_AGENT_TOKENS": ""}
    )
    wait_for(lambda: http_get(f"http://127.0.0.1:{http_port}/readyz")[0] == 200, 15, "readyz")
    kept, _ = procs.agent(grpc_port, "eu-west", token=KEPT)
    removed, _ = procs.agent(grpc_port, "us-east", token=REMOVED)
    wait_for(lambda: collector.output().count('"agent.connected"') >= 2, 20, "both connected")

    tokens.write_text(f"{KEPT}\n")
    collector.popen.send_signal(signal.SIGHUP)
    assert removed.popen.wait(20) != 0  # refused: fatal for the agent
    assert '"agent.token_revoked"' in collector.output()
    assert kept.alive()

    def connected(agent: str) -> bool:
        _, body = http_get(f"http://127.0.0.1:{http_port}/metrics")
        region = agent.removeprefix("agent-")
        return f'vantage_agent_connected{{agent="{agent}",region="{region}"}} 1.0' in body

    wait_for(lambda: connected("agent-eu-west"), 10, "the kept agent connected")
    assert not connected("agent-us-east")
