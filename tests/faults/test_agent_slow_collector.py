"""Fault 5: a collector that acks every batch only after 2 s. Probes keep
their schedule: each run starts within 100 ms of its slot (read from the
results' start times), and the agent sheds nothing. The collector here is a
test double speaking the real gRPC contract, since only its ack delay
matters; the agent is the real process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from agent.scheduler import phase
from common.config.loader import parse_config
from common.wire import check_to_proto
from tests.faults.support import CountingTarget, agent_metric
from tests.support.net import free_port
from tests.support.procs import ROOT, agent_argv, child_env
from vantage.v1 import vantage_pb2 as pb
from vantage.v1 import vantage_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

ACK_DELAY = 2.0
RUN_FOR = 6.0
SLACK = 0.1


class SlowCollector(pb_grpc.CollectorServicer):
    """Pushes a config, then acks each batch ACK_DELAY seconds after it came."""

    def __init__(self, config: pb.Config) -> None:
        self.config = config
        self.started: list[tuple[str, float]] = []
        """(check, started_at) of every result received."""

    async def Connect(  # gRPC method name
        self, request_iterator: AsyncIterator[pb.AgentMessage], context: object
    ) -> AsyncIterator[pb.CollectorMessage]:
        outbox: asyncio.Queue[pb.CollectorMessage] = asyncio.Queue()

        async def ack_later(seq: int) -> None:
            await asyncio.sleep(ACK_DELAY)
            outbox.put_nowait(pb.CollectorMessage(ack=pb.Ack(seq=seq)))

        async def read() -> None:
            async for message in request_iterator:
                if message.WhichOneof("msg") == "batch":
                    self.started += [(r.check, r.started_at) for r in message.batch.results]
                    asyncio.get_running_loop().create_task(ack_later(message.batch.seq))

        reader = asyncio.create_task(read())
        yield pb.CollectorMessage(config=self.config)
        try:
            while True:
                yield await outbox.get()
        finally:
            reader.cancel()


def config_for(target: str) -> pb.Config:
    text = "defaults: {interval: 1s, timeout: 500ms, regions: [eu-west]}\nchecks:\n" + "".join(
        f"  - {{name: c{i}, type: http, url: '{target}/c{i}'}}\n" for i in range(5)
    )
    config = parse_config(text)
    return pb.Config(version="slow-1", checks=[check_to_proto(c) for c in config.checks])


async def test_probes_keep_their_schedule_when_acks_take_two_seconds(
    counting_target: CountingTarget, tmp_path: Path
) -> None:
    collector = SlowCollector(config_for(counting_target.url))
    server = grpc.aio.server()
    pb_grpc.add_CollectorServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    http_port = free_port()
    argv = [
        *agent_argv(port, "eu-west", "agent-slow", http_port),
        *("--state-dir", str(tmp_path / "state"), "--flush-interval", "0.2"),
    ]
    env = child_env({"VANTAGE_TOKEN": "test-token", "PYTHONPATH": f"{ROOT}:{ROOT / 'proto'}"})
    agent = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(RUN_FOR)  # the run being measured, bounded
        skipped = await asyncio.to_thread(
            agent_metric, http_port, "vantage_agent_runs_skipped_total"
        )
    finally:
        agent.terminate()
        await agent.wait()
        await server.stop(None)
    # Each run's start against its slot (the scheduler's stable phase in
    # its 1 s interval), from the results themselves: the agent's clock. A
    # run may start 2 ms early (the loop's timer resolution).
    lateness = [
        (started - phase(check, 1.0) + 0.5) % 1.0 - 0.5 for check, started in collector.started
    ]
    assert len(lateness) >= 5 * 3  # results kept flowing while acks lagged
    off = [round(x, 3) for x in lateness if abs(x) > SLACK]
    assert off == [], f"runs more than {SLACK}s off their slot"
    assert skipped == 0
    assert counting_target.total() >= len(lateness)
