"""The gRPC edge: authenticate agents, push config, ingest result batches.

Protobuf becomes domain values here and nowhere else. Dedup is by
(agent_id, seq): an agent sends strictly increasing seqs on its one stream
and re-sends unacked batches after a reconnect, so a high-water mark per
agent is enough to never count a batch twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import grpc
import structlog

from collector.metrics import CollectorMetrics
from collector.model import Sample
from common.auth import bearer_ok
from common.config import Config
from common.wire import check_to_proto
from vantage.v1 import vantage_pb2 as pb
from vantage.v1 import vantage_pb2_grpc as pb_grpc

log = structlog.get_logger("collector.grpc")

_HELLO_TIMEOUT = 10.0
"""Seconds a new stream has to send its Hello."""


def token_ok(metadata: Iterable[tuple[str, str | bytes]], tokens: Iterable[str]) -> bool:
    """Whether the `authorization: Bearer <token>` metadata holds a known token."""
    return bearer_ok(next((v for k, v in metadata if k == "authorization"), None), tokens)


def config_message(config: Config, region: str) -> pb.CollectorMessage:
    """The Config message for one region: only the checks it runs."""
    checks = [check_to_proto(c) for c in config.for_region(region)]
    return pb.CollectorMessage(config=pb.Config(version=config.version, checks=checks))


@dataclass
class AgentConn:
    """One connected agent stream."""

    agent_id: str
    region: str
    version: str
    outbox: asyncio.Queue[pb.CollectorMessage | None] = field(default_factory=asyncio.Queue)


class Ingest:
    """Where samples go after dedup: statistics and the evaluator."""

    def __init__(self, sink: Callable[[list[Sample], float], None]) -> None:
        self.sink = sink
        self.high_water: dict[str, int] = {}

    def accept(self, agent: AgentConn, batch: pb.ResultBatch) -> bool:
        """Ingest `batch` unless it was seen already; returns whether it was new."""
        if batch.seq <= self.high_water.get(agent.agent_id, -1):
            return False
        self.high_water[agent.agent_id] = batch.seq
        samples = [Sample(r, agent.agent_id, agent.region) for r in batch.results]
        self.sink(samples, time.time())
        return True


class CollectorService(pb_grpc.CollectorServicer):
    """Implements `vantage.v1.Collector/Connect`."""

    def __init__(
        self,
        config: Callable[[], Config],
        tokens: Callable[[], list[str]],
        ingest: Ingest,
        metrics: CollectorMetrics,
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.ingest = ingest
        self.metrics = metrics
        self.agents: dict[str, AgentConn] = {}

    def broadcast(self, config: Config) -> None:
        """Push a changed config to every connected agent."""
        for agent in self.agents.values():
            agent.outbox.put_nowait(config_message(config, agent.region))

    async def Connect(  # gRPC method name
        self,
        request_iterator: AsyncIterator[pb.AgentMessage],
        context: grpc.aio.ServicerContext[pb.AgentMessage, pb.CollectorMessage],
    ) -> AsyncIterator[pb.CollectorMessage]:
        """Authenticate, read Hello, push config, then ack batches."""
        authenticated = token_ok(context.invocation_metadata() or (), self.tokens())
        # The Hello is read even from a caller about to be refused: ending the
        # call while its first message is in flight sometimes reached the
        # client as INTERNAL instead of UNAUTHENTICATED, and an agent retries
        # INTERNAL forever instead of stopping on a bad token.
        try:
            first = await asyncio.wait_for(anext(aiter(request_iterator), None), _HELLO_TIMEOUT)
        except TimeoutError:
            first = None
        if not authenticated:
            self.metrics.auth_failures.inc()
            log.warning("agent.unauthenticated", peer=context.peer())
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid or missing agent token")
        agent = await self._hello(first, context)
        self._register(agent)
        reader = asyncio.create_task(self._read(agent, request_iterator))
        try:
            yield config_message(self.config(), agent.region)
            while (message := await agent.outbox.get()) is not None:
                yield message
        finally:
            reader.cancel()
            self._unregister(agent)

    async def _hello(
        self,
        first: pb.AgentMessage | None,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> AgentConn:
        if first is None or first.WhichOneof("msg") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be Hello")
        hello = first.hello
        if not hello.agent_id or not hello.region:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Hello needs agent_id and region")
        return AgentConn(hello.agent_id, hello.region, hello.version)

    async def _read(self, agent: AgentConn, requests: AsyncIterator[pb.AgentMessage]) -> None:
        try:
            async for message in requests:
                if message.WhichOneof("msg") == "batch":
                    self._on_batch(agent, message.batch)
        except grpc.aio.AioRpcError:
            pass  # the agent went away; the handler's finally cleans up
        finally:
            agent.outbox.put_nowait(None)

    def _on_batch(self, agent: AgentConn, batch: pb.ResultBatch) -> None:
        new = self.ingest.accept(agent, batch)
        status = "ok" if new else "duplicate"
        self.metrics.ingest_batches.labels(status).inc()
        self.metrics.ingest_results.labels(status).inc(len(batch.results))
        agent.outbox.put_nowait(pb.CollectorMessage(ack=pb.Ack(seq=batch.seq)))

    def _register(self, agent: AgentConn) -> None:
        old = self.agents.get(agent.agent_id)
        if old is not None:
            old.outbox.put_nowait(None)  # a newer stream from the same agent wins
        self.agents[agent.agent_id] = agent
        self.metrics.agent_connected.labels(agent.agent_id, agent.region).set(1)
        log.info(
            "agent.connected", agent=agent.agent_id, region=agent.region, version=agent.version
        )

    def _unregister(self, agent: AgentConn) -> None:
        if self.agents.get(agent.agent_id) is agent:
            del self.agents[agent.agent_id]
            self.metrics.agent_connected.labels(agent.agent_id, agent.region).set(0)
            log.info("agent.disconnected", agent=agent.agent_id, region=agent.region)
