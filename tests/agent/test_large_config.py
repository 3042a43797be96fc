"""A config larger than gRPC's 4 MiB default message still reaches the
agent: a real agent process against a collector double on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config.loader import parse_config
from common.wire import check_to_proto
from tests.faults.support import agent_metric
from tests.support.collector_double import CollectorDouble
from tests.support.net import free_port, wait_for
from tests.support.procs import Procs, agent_argv
from vantage.v1 import vantage_pb2 as pb

pytestmark = pytest.mark.integration

CHECKS = 40
BODY = 128 * 1024  # 40 POST bodies of 128 KiB: a 5 MiB config message


def large_config() -> pb.Config:
    # A refused loopback port and an hour's interval: the checks are
    # scheduled, and none needs to run for the test to tell.
    text = "defaults: {interval: 1h, timeout: 5s, regions: [eu-west]}\nchecks:\n" + "".join(
        f"  - {{name: c{i}, type: http, method: POST, url: 'http://127.0.0.1:9/{i}',"
        f" body: '{'x' * BODY}'}}\n"
        for i in range(CHECKS)
    )
    config = parse_config(text)
    message = pb.Config(version="large-1", checks=[check_to_proto(c) for c in config.checks])
    assert message.ByteSize() > 4 << 20
    return message


def test_a_config_past_grpcs_default_message_size_is_received(procs: Procs, tmp_path: Path) -> None:
    double = CollectorDouble(large_config())
    try:
        http_port = free_port()
        argv = [
            *agent_argv(double.port, "eu-west", "agent-large", http_port),
            *("--state-dir", str(tmp_path / "state")),
        ]
        agent = procs.start("agent", argv, {"VANTAGE_TOKEN": "test-token"})
        wait_for(
            lambda: agent.alive() and agent_metric(http_port, "vantage_agent_checks") == CHECKS,
            20,
            "the agent to schedule every check of the large config",
        )
    finally:
        double.close()
