"""The gRPC edge with a real grpc.aio server on loopback: who may report as
whom, dedup per authenticated identity, and the bounds on one agent."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest

from collector.metrics import CollectorMetrics
from collector.model import Sample
from collector.server import CONVERT, CollectorService, Ingest
from collector.stats.series import Stats
from common.auth import AgentTokens, Binding, token_sha256
from common.config import parse_config
from vantage.v1 import vantage_pb2 as pb
from vantage.v1 import vantage_pb2_grpc as pb_grpc

CONFIG = parse_config(
    """\
defaults: {interval: 10s, timeout: 5s, regions: [eu-west, us-east]}
checks:
  - {name: home, type: http, url: "http://127.0.0.1:9/"}
  - {name: eu-only, type: http, url: "http://127.0.0.1:9/", regions: [eu-west]}
""",
    "checks.yaml",
)
BOUND = "fake-bound-token-eu"
SHARED = "fake-shared-token"


@dataclass
class Edge:
    """A CollectorService served on a loopback port, recording what it ingests."""

    service: CollectorService
    target: str
    metrics: CollectorMetrics
    ingested: list[Sample] = field(default_factory=list)

    def counted(self, status: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "vantage_ingest_results_total", {"status": status}
        )
        return value or 0.0


@pytest.fixture
async def edge() -> AsyncIterator[Edge]:
    metrics = CollectorMetrics(Stats())
    ingested: list[Sample] = []
    tokens = AgentTokens([Binding("eu-west-1", "eu-west", token_sha256(BOUND))], [SHARED])
    ingest = Ingest(lambda samples, _now: ingested.extend(samples))
    service = CollectorService(lambda: CONFIG, lambda: tokens, ingest, metrics, rate=1000)
    server = grpc.aio.server()
    pb_grpc.add_CollectorServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield Edge(service, f"127.0.0.1:{port}", metrics, ingested)
    finally:
        await server.stop(grace=None)


def now_seq(offset_s: float = 0.0) -> int:
    return int((time.time() + offset_s) * 1_000_000)


def batch(seq: int, *checks: str) -> pb.AgentMessage:
    results = [pb.Result(check=c, success=True, started_at=time.time()) for c in checks]
    return pb.AgentMessage(batch=pb.ResultBatch(seq=seq, results=results))


class Stream:
    """One agent stream: send messages, read replies, see how it ended."""

    def __init__(self, channel: grpc.aio.Channel, token: str) -> None:
        stub = pb_grpc.CollectorStub(channel)
        self.call = stub.Connect(metadata=(("authorization", f"Bearer {token}"),))

    async def hello(self, agent_id: str, region: str) -> pb.CollectorMessage:
        await self.call.write(pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, region=region)))
        return await self._reply()

    async def send(self, message: pb.AgentMessage) -> pb.CollectorMessage:
        await self.call.write(message)
        return await self._reply()

    async def _reply(self) -> pb.CollectorMessage:
        reply = await self.call.read()
        assert isinstance(reply, pb.CollectorMessage), reply
        return reply

    async def status(self) -> tuple[grpc.StatusCode, str]:
        try:
            while (await self.call.read()) is not grpc.aio.EOF:
                pass
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or ""
        return await self.call.code(), await self.call.details()


async def refused(
    edge: Edge, token: str, agent_id: str, region: str
) -> tuple[grpc.StatusCode, str]:
    async with grpc.aio.insecure_channel(edge.target) as channel:
        stream = Stream(channel, token)
        await stream.call.write(pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, region=region)))
        return await stream.status()


@pytest.mark.parametrize(
    ("agent_id", "region", "claimed"),
    [("eu-west-2", "eu-west", "'eu-west-2'"), ("eu-west-1", "us-east", "'us-east'")],
    ids=["other-name", "spoofed-region"],
)
async def test_a_bound_token_reports_only_as_its_agent(
    edge: Edge, agent_id: str, region: str, claimed: str
) -> None:
    code, details = await refused(edge, BOUND, agent_id, region)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "bound to agent 'eu-west-1' in region 'eu-west'" in details
    assert claimed in details


async def test_an_id_connected_with_another_token_is_refused(edge: Edge) -> None:
    async with grpc.aio.insecure_channel(edge.target) as channel:
        owner = Stream(channel, BOUND)
        assert (await owner.hello("eu-west-1", "eu-west")).HasField("config")
        code, details = await refused(edge, SHARED, "eu-west-1", "eu-west")
        assert code == grpc.StatusCode.ALREADY_EXISTS
        assert "--agent-id" in details
        # The owner's stream is untouched and still acked.
        reply = await owner.send(batch(now_seq(), "home"))
        assert reply.ack.seq > 0


async def test_a_reconnect_of_the_same_agent_replaces_its_stream(edge: Edge) -> None:
    async with grpc.aio.insecure_channel(edge.target) as channel:
        old = Stream(channel, SHARED)
        await old.hello("local-1", "eu-west")
        new = Stream(channel, SHARED)
        assert (await new.hello("local-1", "eu-west")).HasField("config")
        assert (await old.status())[0] == grpc.StatusCode.OK
        assert (await new.send(batch(now_seq(), "home"))).ack.seq > 0


async def test_a_seq_past_the_clock_is_refused_and_cannot_poison_the_mark(edge: Edge) -> None:
    async with grpc.aio.insecure_channel(edge.target) as channel:
        hijack = Stream(channel, SHARED)
        await hijack.hello("eu-west-1", "eu-west")
        await hijack.call.write(batch(2**63, "home"))
        code, details = await hijack.status()
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert "ahead of the collector's clock" in details
        # The real agent, on its bound token, is ingested normally.
        real = Stream(channel, BOUND)
        await real.hello("eu-west-1", "eu-west")
        await real.send(batch(now_seq(), "home"))
    assert [s.agent_id for s in edge.ingested] == ["eu-west-1"]


async def test_dedup_marks_are_kept_per_identity_not_per_claimed_id(edge: Edge) -> None:
    seq = now_seq()
    async with grpc.aio.insecure_channel(edge.target) as channel:
        real = Stream(channel, BOUND)
        await real.hello("eu-west-1", "eu-west")
        await real.send(batch(seq, "home"))
        await real.send(batch(seq, "home"))  # a re-send after a lost ack
        other = Stream(channel, SHARED)
        await other.hello("local-1", "eu-west")
        await other.send(batch(seq, "home"))  # the same seq from another identity is new
    assert [s.agent_id for s in edge.ingested] == ["eu-west-1", "local-1"]
    assert edge.counted("duplicate") == 1


async def test_results_for_checks_the_region_does_not_run_never_reach_ingest(edge: Edge) -> None:
    names = [f"made-up-{i}" for i in range(2000)]
    async with grpc.aio.insecure_channel(edge.target) as channel:
        agent = Stream(channel, SHARED)
        await agent.hello("local-2", "us-east")
        await agent.send(batch(now_seq(), "home", "eu-only", *names))
    assert [s.check for s in edge.ingested] == ["home"]
    assert edge.counted("unknown_check") == 2001
    assert edge.counted("ok") == 1


async def test_a_batch_bigger_than_a_conversion_slice_arrives_whole_and_in_order(
    edge: Edge,
) -> None:
    names = ["home", "eu-only"] * (CONVERT + 200)  # three slices
    async with grpc.aio.insecure_channel(edge.target) as channel:
        agent = Stream(channel, SHARED)
        await agent.hello("local-3", "eu-west")
        await agent.send(batch(now_seq(), *names))
    assert [s.check for s in edge.ingested] == names
    assert edge.counted("ok") == len(names)


async def test_a_flood_over_the_rate_limit_is_resource_exhausted(edge: Edge) -> None:
    async with grpc.aio.insecure_channel(edge.target) as channel:
        agent = Stream(channel, SHARED)
        await agent.hello("flood", "eu-west")
        seq = now_seq()
        for i in range(10):  # a burst of 10 x 1,000 results is allowed
            await agent.send(batch(seq + i, *["home"] * 1000))
        await agent.call.write(batch(seq + 10, *["home"] * 1000))
        code, details = await agent.status()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "1000 results/s" in details


@pytest.mark.parametrize(
    ("agent_id", "why"),
    [("x" * 129, "over the maximum of 128"), ("bad id", "use letters"), ("", "needs agent_id")],
    ids=["too-long", "bad-characters", "empty"],
)
async def test_an_agent_id_unfit_for_a_label_is_refused(
    edge: Edge, agent_id: str, why: str
) -> None:
    code, details = await refused(edge, SHARED, agent_id, "eu-west")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert why in details


async def test_a_removed_token_closes_its_streams(edge: Edge) -> None:
    async with grpc.aio.insecure_channel(edge.target) as channel:
        agent = Stream(channel, BOUND)
        await agent.hello("eu-west-1", "eu-west")
        edge.service.tokens = lambda: AgentTokens([], [SHARED])
        edge.service.revoke()
        assert await agent.status() == (grpc.StatusCode.UNAUTHENTICATED, "agent token revoked")
        code, _ = await refused(edge, BOUND, "eu-west-1", "eu-west")
        assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_reconnect_does_not_refill_the_rate_limit(edge: Edge) -> None:
    seq = now_seq()
    async with grpc.aio.insecure_channel(edge.target) as channel:
        agent = Stream(channel, SHARED)
        await agent.hello("flood", "eu-west")
        for i in range(10):
            await agent.send(batch(seq + i, *["home"] * 1000))
        again = Stream(channel, SHARED)
        await again.hello("flood", "eu-west")
        await again.call.write(batch(seq + 10, *["home"] * 1000))
        code, _ = await again.status()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_results_probed_after_the_clock_allows_are_dropped_and_counted(edge: Edge) -> None:
    future = pb.Result(check="home", success=False, started_at=time.time() + 86_400)
    nan = pb.Result(check="home", success=False, started_at=float("nan"))
    message = batch(now_seq(), "home")
    message.batch.results.extend([future, nan])
    async with grpc.aio.insecure_channel(edge.target) as channel:
        agent = Stream(channel, SHARED)
        await agent.hello("local-3", "eu-west")
        await agent.send(message)
    assert len(edge.ingested) == 1
    assert edge.counted("invalid") == 2


async def test_runs_an_agent_shed_are_counted_per_region_once(edge: Edge) -> None:
    shed = pb.AgentMessage(batch=pb.ResultBatch(seq=now_seq(), runs_skipped=7))
    async with grpc.aio.insecure_channel(edge.target) as channel:
        agent = Stream(channel, SHARED)
        await agent.hello("local-3", "us-east")
        await agent.send(shed)
        await agent.send(shed)  # a re-sent batch is a duplicate: not counted again
    skipped = edge.metrics.registry.get_sample_value(
        "vantage_agent_runs_skipped_total", {"region": "us-east"}
    )
    assert skipped == 7
