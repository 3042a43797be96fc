"""Fault 5: a collector that acks every batch only after 2 s. Probes keep
their schedule: each run starts within 100 ms of its slot (read from the
results' start times), and none is shed for being late. The collector here is a
double speaking the real gRPC contract (tests/support/collector_double),
since only its ack delay matters; the agent is the real process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.scheduler import phase
from common.config.loader import parse_config
from common.wire import check_to_proto
from tests.faults.support import CountingTarget, agent_metric
from tests.support.collector_double import CollectorDouble
from tests.support.net import free_port, wait_for
from tests.support.procs import Procs, agent_argv
from vantage.v1 import vantage_pb2 as pb

pytestmark = pytest.mark.integration

ACK_DELAY = 2.0
RUN_FOR = 5.0
SLACK = 0.1


def config_for(target: str) -> pb.Config:
    text = "defaults: {interval: 1s, timeout: 500ms, regions: [eu-west]}\nchecks:\n" + "".join(
        f"  - {{name: c{i}, type: http, url: '{target}/c{i}'}}\n" for i in range(5)
    )
    config = parse_config(text)
    return pb.Config(version="slow-1", checks=[check_to_proto(c) for c in config.checks])


def test_probes_keep_their_schedule_when_acks_take_two_seconds(
    procs: Procs, counting_target: CountingTarget, tmp_path: Path
) -> None:
    double = CollectorDouble(config_for(counting_target.url), ack_delay=ACK_DELAY)
    try:
        http_port = free_port()
        argv = [
            *agent_argv(double.port, "eu-west", "agent-slow", http_port),
            *("--state-dir", str(tmp_path / "state"), "--flush-interval", "0.2"),
        ]
        agent = procs.start("agent", argv, {"VANTAGE_TOKEN": "test-token"})
        wait_for(lambda: agent.alive() and double.received.results, 20, "the first results")
        time.sleep(RUN_FOR)  # the run being measured, bounded
        late = agent_metric(http_port, 'vantage_agent_runs_skipped_total{why="late"}')
        unacked = agent_metric(http_port, "vantage_agent_spool_results")
        agent.stop()
    finally:
        double.close()
    # Each run's start against its slot (the scheduler's stable phase in
    # its 1 s interval), from the results themselves: the agent's clock. A
    # run may start 2 ms early (the loop's timer resolution).
    lateness = [
        (started - phase(check, 1.0) + 0.5) % 1.0 - 0.5
        for check, started, _, _ in double.received.since(0)
    ]
    assert len(lateness) >= 5 * 4  # results kept flowing while acks lagged
    off = [round(x, 3) for x in lateness if abs(x) > SLACK]
    assert off == [], f"runs more than {SLACK}s off their slot"
    assert late == 0  # no run fell behind its slot (a loaded test machine may
    # still shed a run whose loop lagged: why="loop_lag", counted, not a result)
    assert unacked >= 5  # two seconds of results wait for their acks meanwhile
