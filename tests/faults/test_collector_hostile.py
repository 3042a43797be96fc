"""Fault 10: a hostile agent holding valid tokens tries to hijack a connected
agent's id, spoof a region, poison a dedup mark, create 100k series of
made-up checks, and flood. The real agents lose nothing, nobody is paged,
and the collector's HTTP side stays responsive."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from common.auth import token_sha256
from tests.faults.rig import TOKEN, Rig, config_text, metric
from tests.support.net import http_get, wait_for
from vantage.v1 import vantage_pb2 as pb
from vantage.v1 import vantage_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

EU_TOKEN = "fake-bound-token-eu-west"
HOSTILE_TOKEN = "fake-bound-token-hostile"
RATE = 10_000
"""Results/s per agent identity; bursts of ten times that (the 100k unknown
names fit in one burst, so the flood is what meets the limit)."""


def batch(seq: int, names: list[str]) -> pb.AgentMessage:
    now = time.time()
    results = [pb.Result(check=n, success=True, started_at=now) for n in names]
    return pb.AgentMessage(batch=pb.ResultBatch(seq=seq, results=results))


async def attempt(
    address: str, token: str, agent_id: str, region: str, messages: AsyncIterator[pb.AgentMessage]
) -> tuple[grpc.StatusCode, str, int]:
    """One stream: Hello, then `messages`; (status, details, acks received)."""
    async with grpc.aio.insecure_channel(address) as channel:
        call = pb_grpc.CollectorStub(channel).Connect(
            metadata=(("authorization", f"Bearer {token}"),)
        )
        await call.write(pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, region=region)))
        acks = 0
        try:
            await call.read()  # the config, or the refusal
            async for message in messages:
                await call.write(message)
                reply = await call.read()
                acks += isinstance(reply, pb.CollectorMessage) and reply.HasField("ack")
            await call.done_writing()
            await call.read()
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or "", acks
        return grpc.StatusCode.OK, "", acks


async def nothing() -> AsyncIterator[pb.AgentMessage]:
    return
    yield


async def sequence(*messages: pb.AgentMessage) -> AsyncIterator[pb.AgentMessage]:
    for message in messages:
        yield message


async def unknown_names(count: int, per_batch: int = 10_000) -> AsyncIterator[pb.AgentMessage]:
    seq = int(time.time() * 1_000_000)
    for start in range(0, count, per_batch):
        yield batch(seq + start, [f"made-up-{i}" for i in range(start, start + per_batch)])


async def flood(seconds: float, most: int = 3_000_000) -> AsyncIterator[pb.AgentMessage]:
    """Batches of 10k as fast as acks come, until refused (bounded in time and count)."""
    seq, deadline = int(time.time() * 1_000_000), time.monotonic() + seconds
    for _ in range(most // 10_000):
        if time.monotonic() > deadline:
            return
        seq += 1
        yield batch(seq, ["home"] * 10_000)


class Latency:
    """Polls /healthz in a thread and keeps the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url, self.worst, self.stop = url, 0.0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            assert http_get(self.url)[0] == 200
            self.worst = max(self.worst, time.monotonic() - started)
            time.sleep(0.05)


def test_a_hostile_agent_is_refused_bounded_and_harmless(rig: Rig) -> None:
    agents = f"""\
agents:
  - {{name: agent-eu-west, region: eu-west, token_sha256: "{token_sha256(EU_TOKEN)}"}}
  - {{name: hostile-1, region: us-east, token_sha256: "{token_sha256(HOSTILE_TOKEN)}"}}
"""
    rig.config.write_text(config_text(rig.target, rig.sink) + agents)
    rig.start_collector(env={"VANTAGE_AGENT_RATE": str(RATE)})
    rig.agents["eu-west"] = rig.procs.agent(rig.grpc_port, "eu-west", token=EU_TOKEN)[0]
    rig.agents["us-east"] = rig.procs.agent(rig.grpc_port, "us-east", token=TOKEN)[0]
    wait_for(rig.reporting, 20, "both regions reporting")
    address = f"127.0.0.1:{rig.grpc_port}"
    latency = Latency(rig.url("/healthz"))
    latency.thread.start()

    async def attacks() -> list[tuple[grpc.StatusCode, str, int]]:
        far = batch(2**63, ["home"])
        return [
            await attempt(address, HOSTILE_TOKEN, "agent-eu-west", "eu-west", nothing()),
            await attempt(address, HOSTILE_TOKEN, "hostile-1", "eu-west", nothing()),
            await attempt(address, TOKEN, "agent-eu-west", "eu-west", nothing()),
            await attempt(address, TOKEN, "hostile-2", "eu-west", sequence(far)),
            await attempt(address, TOKEN, "hostile-3", "us-east", unknown_names(100_000)),
            await attempt(address, TOKEN, "hostile-4", "us-east", flood(30.0)),
        ]

    try:
        hijack, spoof, taken, poison, unknown, flooded = asyncio.run(attacks())
    finally:
        latency.stop.set()
        latency.thread.join()

    assert hijack[0] == grpc.StatusCode.PERMISSION_DENIED
    assert "'agent-eu-west'" in hijack[1] and "bound to agent 'hostile-1'" in hijack[1]
    assert spoof[0] == grpc.StatusCode.PERMISSION_DENIED
    assert taken[0] == grpc.StatusCode.ALREADY_EXISTS
    assert poison[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert unknown[:1] == (grpc.StatusCode.OK,) and unknown[2] == 10
    assert flooded[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert metric(rig, 'vantage_ingest_results_total{status="unknown_check"}') == 100_000
    _, exposition = http_get(rig.url("/metrics"))
    assert "made-up" not in exposition
    assert len(exposition) < 200_000
    assert latency.worst < 1.0, f"/healthz took {latency.worst:.2f}s during the attacks"

    rig.assert_counts([])
