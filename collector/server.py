"""The gRPC edge: authenticate agents, push config, ingest result batches.

Protobuf becomes domain values here and nowhere else. Who an agent is comes
from its token (`common.auth`), never from what its Hello claims:
- a bound token may report only as its own name and region
  (PERMISSION_DENIED otherwise);
- an agent id already connected with another token or region is refused
  (ALREADY_EXISTS); the same agent reconnecting replaces its old stream.

Dedup is by (authenticated identity, seq): an agent sends strictly
increasing seqs and re-sends unacked batches after a reconnect, so a
high-water mark per identity never counts a batch twice. A seq the agent's
clock cannot have produced is refused (INVALID_ARGUMENT), so no mark can be
pushed far ahead. Results for checks the agent's region does not run are
dropped and counted, so an agent cannot create series; a per-agent rate
limit answers RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import NoReturn

import grpc
import structlog

from collector.limits import (
    MAX_LABEL_LENGTH,
    MAX_SEQ_AHEAD_S,
    RateLimit,
    label_refusal,
    seq_refusal,
)
from collector.metrics import CollectorMetrics
from collector.model import PhaseTimes, Sample
from common.auth import AgentTokens, Identity
from common.config import Config
from common.reasons import FailureReason
from common.wire import check_to_proto, phases_of
from vantage.v1 import vantage_pb2 as pb
from vantage.v1 import vantage_pb2_grpc as pb_grpc

log = structlog.get_logger("collector.grpc")

_HELLO_TIMEOUT = 10.0
"""Seconds a new stream has to send its Hello."""
MAX_BATCH_RESULTS = 10_000
"""Results in one batch; the agent sends 500 by default."""
SLICE = 128
"""Results given to statistics and the evaluator between two yields to the
event loop: ~5 ms at ~40 µs per result."""
CONVERT = 1024
"""Results converted from protobuf between two yields: ~5 ms at ~5 µs each."""
_DRAIN = 2.0
"""Seconds a refused caller's messages are read and dropped before the status."""
_QUIET = 0.1
"""A pause this long in what the caller sends ends the drain early."""
_MAX_LIMITS = 100_000
"""Rate buckets kept (one per identity); past it they start afresh."""
DEFAULT_RATE = 5_000.0
"""Results per second per agent (1,000 checks at 10 s is 100/s); bursts of
ten seconds' worth let a backlog go out after a reconnect."""
KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 1_000),
    ("grpc.http2.ping_timeout_ms", 10_000),
]
"""gRPC server options: ping every agent every 10 s and drop one that does
not answer within 10 s more, so a dead agent's stream is noticed within
20 s; accept the agents' own pings (every --keepalive, at most one a
second) without answering GOAWAY 'too many pings'."""


_SUCCESS = FailureReason.NONE


def sample_of(raw: pb.Result, agent_id: str, region: str) -> Sample:
    """The collector's one conversion of a wire result. `agent_id` and
    `region` come from the stream's Hello; check and release names are
    interned, since many results (and every series' last one) repeat them."""
    success = raw.success
    tls = raw.tls if raw.HasField("tls") else None
    http = raw.http if raw.HasField("http") else None
    started_at, duration = raw.started_at, raw.duration_seconds
    return Sample(
        check=sys.intern(raw.check),
        region=region,
        agent_id=agent_id,
        at=started_at + duration,
        duration=duration,
        success=success,
        check_type=sys.intern(raw.check_type),
        reason=_SUCCESS if success else FailureReason.from_proto(raw.reason),
        message=raw.message,
        request_id=raw.request_id,
        release=sys.intern(raw.release),
        retry=raw.retry,
        phases=PhaseTimes(phases_of(raw.phases)),
        status_code=http.status_code if http is not None else 0,
        http_version=sys.intern(http.http_version) if http is not None else "",
        redirects=len(http.redirects) if http is not None else 0,
        body_bytes=http.body_bytes if http is not None else 0,
        peer_address=http.peer_address if http is not None else "",
        cert_not_after=(tls.not_after or None) if tls is not None else None,
        cert_serial=(tls.serial or None) if tls is not None else None,
        tls_version=tls.version[:MAX_LABEL_LENGTH] if tls is not None else "",
        cert_chain=_chain(tls) if tls is not None and tls.sha256_fingerprint else None,
        failed_assertions=() if success else _failed_assertions(raw),
    )


def _chain(tls: pb.TlsDetails) -> tuple[str, str, str, str]:
    # Label values: each capped like every other label the collector writes.
    cap = MAX_LABEL_LENGTH
    return (
        tls.sha256_fingerprint[:cap],
        tls.subject[:cap],
        tls.issuer[:cap],
        ",".join(tls.sans)[:cap],
    )


def _failed_assertions(raw: pb.Result) -> tuple[str, ...]:
    return tuple(
        f"{a.name}: {a.message}" if a.message else a.name for a in raw.assertions if not a.ok
    )


def _names_in(config: Config, region: str) -> frozenset[str]:
    return frozenset(c.name for c in config.for_region(region))


def config_message(config: Config, region: str) -> pb.CollectorMessage:
    """The Config message for one region: only the checks it runs."""
    message = pb.CollectorMessage()
    message.config.version = config.version
    checks = message.config.checks
    for check in config.for_region(region):
        check_to_proto(check, checks.add())
    return message


@dataclass(frozen=True)
class Refusal:
    """Ends a stream with a status (sent through the stream's outbox)."""

    code: grpc.StatusCode
    details: str


Outgoing = pb.CollectorMessage | Refusal | None


@dataclass
class AgentConn:
    """One connected agent stream."""

    agent_id: str
    region: str
    version: str
    identity: Identity
    limit: RateLimit
    outbox: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)
    unknown: int = 0
    """Results dropped: checks this agent's region does not run, or probed
    after the collector's clock allows."""

    @property
    def key(self) -> str:
        """Where this stream's dedup marks live."""
        return self.identity.key(self.agent_id, self.region)


class Ingest:
    """Dedup, then statistics and the evaluator (`sink`)."""

    def __init__(
        self,
        sink: Callable[[list[Sample], float], None],
        persist: Callable[[str, int], None] = lambda key, seq: None,
    ) -> None:
        """`persist(key, seq)` keeps a new mark before the batch is acked."""
        self.sink = sink
        self.persist = persist
        self.high_water: dict[str, int] = {}
        """Highest seq ingested, by authenticated identity key."""

    def restore(self, marks: Mapping[str, object], now: float) -> int:
        """Load saved marks, skipping any no agent could have made (an old
        file's marks by claimed id, or a seq past the clock); returns how
        many were skipped."""
        kept = {
            k: v
            for k, v in marks.items()
            if k.startswith(("agent:", "shared:"))
            and isinstance(v, int)
            and seq_refusal(v, now) is None
        }
        self.high_water.update(kept)
        return len(marks) - len(kept)

    async def accept(self, key: str, samples: list[Sample], seq: int, now: float) -> bool:
        """Ingest `samples` unless batch `seq` was seen; returns whether it
        was new. A big batch (a backlog after a reconnect) goes to the sink
        `SLICE` results at a time, with a yield to the event loop between:
        the agent's batch of 500 would hold it ~20 ms, the limit's 10,000
        close to half a second."""
        if seq <= self.high_water.get(key, -1):
            return False
        self.high_water[key] = seq
        self.persist(key, seq)
        for start in range(0, len(samples), SLICE):
            if start:
                await asyncio.sleep(0)
            self.sink(samples[start : start + SLICE], now)
        return True


class CollectorService(pb_grpc.CollectorServicer):
    """Implements `vantage.v1.Collector/Connect`."""

    def __init__(
        self,
        config: Callable[[], Config],
        tokens: Callable[[], AgentTokens],
        ingest: Ingest,
        metrics: CollectorMetrics,
        *,
        rate: float = DEFAULT_RATE,
        clock: Callable[[], float] = time.time,
        audit: bool = False,
    ) -> None:
        """`audit` logs every ingested batch's request ids (debug level):
        the fault suite counts results end to end from it."""
        self.config = config
        self.tokens = tokens
        self.ingest = ingest
        self.metrics = metrics
        self.rate = rate
        self.clock = clock
        self.audit = audit
        self.agents: dict[str, AgentConn] = {}
        self._limits: dict[str, RateLimit] = {}
        self._runs: dict[str, frozenset[str]] = {}
        self._messages: dict[str, pb.CollectorMessage] = {}
        """Per region, for the config version `_runs_version`: building one
        costs ~20 µs per check, too much to repeat for every agent."""
        self._runs_version = ""
        self._broadcasting = asyncio.Lock()

    async def broadcast(self, config: Config) -> None:
        """Push a changed config to every connected agent (one broadcast at
        a time, so agents get configs in order)."""
        async with self._broadcasting:
            for agent in list(self.agents.values()):
                agent.outbox.put_nowait(await self._config_message(config, agent.region))

    def revoke(self) -> None:
        """Close the streams whose token is no longer valid (after a reload)."""
        tokens = self.tokens()
        for agent in list(self.agents.values()):
            if not tokens.allows(agent.identity):
                log.warning("agent.token_revoked", agent=agent.agent_id, region=agent.region)
                refusal = Refusal(grpc.StatusCode.UNAUTHENTICATED, "agent token revoked")
                agent.outbox.put_nowait(refusal)

    async def Connect(  # gRPC method name
        self,
        request_iterator: AsyncIterator[pb.AgentMessage],
        context: grpc.aio.ServicerContext[pb.AgentMessage, pb.CollectorMessage],
    ) -> AsyncIterator[pb.CollectorMessage]:
        """Authenticate, read Hello, push config, then ack batches."""
        metadata = context.invocation_metadata() or ()
        header = next((v for k, v in metadata if k == "authorization"), None)
        identity = self.tokens().identify(header)
        # The Hello is read even from a caller about to be refused, and what
        # it sends after is drained before the status: ending the call while
        # its messages are in flight reaches the client as INTERNAL instead
        # of our code, and an agent retries INTERNAL forever instead of
        # stopping on a bad token.
        try:
            first = await asyncio.wait_for(anext(aiter(request_iterator), None), _HELLO_TIMEOUT)
        except TimeoutError:
            first = None
        if identity is None:
            self.metrics.auth_failures.inc()
            log.warning("agent.unauthenticated", peer=context.peer())
            refused = Refusal(grpc.StatusCode.UNAUTHENTICATED, "invalid or missing agent token")
            await _refuse(context, request_iterator, refused)
        agent = self._hello(first, identity, context.peer())
        if isinstance(agent, Refusal):
            await _refuse(context, request_iterator, agent)
        refusal = self._register(agent)
        if refusal is not None:
            await _refuse(context, request_iterator, refusal)
        reader = asyncio.create_task(self._read(agent, request_iterator))
        try:
            yield await self._config_message(self.config(), agent.region)
            while (message := await agent.outbox.get()) is not None:
                if isinstance(message, Refusal):
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader  # the drain reads the requests next
                    await _refuse(context, request_iterator, message)
                yield message
        finally:
            reader.cancel()
            self._unregister(agent)

    def _hello(
        self, first: pb.AgentMessage | None, identity: Identity, peer: str
    ) -> AgentConn | Refusal:
        if first is None or first.WhichOneof("msg") != "hello":
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be Hello")
        hello = first.hello
        for name, value in (("agent_id", hello.agent_id), ("region", hello.region)):
            why = label_refusal(name, value)
            if why is not None:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT, why)
        denied = identity.refusal(hello.agent_id, hello.region)
        if denied is not None:
            self.metrics.auth_failures.inc()
            log.warning("agent.permission_denied", peer=peer, why=denied)
            return Refusal(grpc.StatusCode.PERMISSION_DENIED, denied)
        key = identity.key(hello.agent_id, hello.region)
        limit = self._limits.get(key)
        if limit is None:
            # One bucket per identity, kept across its reconnects: a flood
            # cannot start afresh by reconnecting.
            if len(self._limits) >= _MAX_LIMITS:
                self._limits.clear()
            limit = self._limits[key] = RateLimit(self.rate, self.rate * 10)
        return AgentConn(hello.agent_id, hello.region, hello.version[:64], identity, limit)

    async def _read(self, agent: AgentConn, requests: AsyncIterator[pb.AgentMessage]) -> None:
        try:
            async for message in requests:
                if message.WhichOneof("msg") == "batch":
                    refusal = await self._on_batch(agent, message.batch)
                    if refusal is not None:
                        agent.outbox.put_nowait(refusal)
                        return
                # Let other streams and the HTTP server run between batches,
                # however fast this agent sends.
                await asyncio.sleep(0)
        except grpc.aio.AioRpcError:
            pass  # the agent went away; the handler's finally cleans up
        finally:
            agent.outbox.put_nowait(None)

    async def _on_batch(self, agent: AgentConn, batch: pb.ResultBatch) -> Refusal | None:
        now = self.clock()
        refusal = _batch_refusal(agent, batch, now)
        if refusal is not None:
            self.metrics.ingest_batches.labels("refused").inc()
            self.metrics.ingest_results.labels("refused").inc(len(batch.results))
            log.warning("agent.batch_refused", agent=agent.agent_id, why=refusal.details)
            return refusal
        samples = await self._known(agent, batch, now)
        new = await self.ingest.accept(agent.key, samples, batch.seq, now)
        if new and samples:
            self.metrics.ingest_delay.observe(max(0.0, now - samples[0].at))
        if new and self.audit:
            ids = [s.request_id for s in samples]
            log.debug("ingest.accepted", key=agent.key, seq=batch.seq, request_ids=ids)
        if new and batch.runs_skipped:
            self.metrics.runs_skipped.labels(agent.region).inc(batch.runs_skipped)
        status = "ok" if new else "duplicate"
        self.metrics.ingest_batches.labels(status).inc()
        self.metrics.ingest_results.labels(status).inc(len(samples) if new else len(batch.results))
        agent.outbox.put_nowait(pb.CollectorMessage(ack=pb.Ack(seq=batch.seq)))
        return None

    async def _known(self, agent: AgentConn, batch: pb.ResultBatch, now: float) -> list[Sample]:
        """Samples of the checks this agent's region runs, probed no later than
        the clock allows (a NaN time fails the test too); the rest is counted.
        Converted `CONVERT` results at a time with a yield between: a batch
        at the limit (10,000) takes ~55 ms."""
        runs = await self._checks_run_in(agent.region)
        horizon = now + MAX_SEQ_AHEAD_S
        results, samples = batch.results, []
        for start in range(0, len(results), CONVERT):
            if start:
                await asyncio.sleep(0)
            samples += [
                sample_of(r, agent.agent_id, agent.region)
                for r in results[start : start + CONVERT]
                if r.check in runs and r.started_at <= horizon
            ]
        if len(samples) < len(results):
            self._count_dropped(agent, batch, runs, len(samples))
        return samples

    def _count_dropped(
        self, agent: AgentConn, batch: pb.ResultBatch, runs: frozenset[str], kept: int
    ) -> None:
        unknown = sum(1 for r in batch.results if r.check not in runs)
        invalid = len(batch.results) - kept - unknown  # probed after the clock allows
        for status, count in (("unknown_check", unknown), ("invalid", invalid)):
            if count:
                self.metrics.ingest_results.labels(status).inc(count)
        if agent.unknown == 0:  # once per stream: a flood must not flood the log
            log.warning(
                "agent.results_dropped", agent=agent.agent_id, unknown=unknown, invalid=invalid
            )
        agent.unknown += unknown + invalid

    async def _checks_run_in(self, region: str) -> frozenset[str]:
        """Once per config version and region, in a thread: 20-70 ms of the
        event loop at 50,000 checks."""
        config = self.config()
        self._forget_other_versions(config)
        runs = self._runs.get(region)
        if runs is None:
            runs = await asyncio.to_thread(_names_in, config, region)
            if config.version == self._runs_version:
                self._runs[region] = runs
        return runs

    def _forget_other_versions(self, config: Config) -> None:
        if config.version != self._runs_version:
            self._runs, self._messages, self._runs_version = {}, {}, config.version

    async def _config_message(self, config: Config, region: str) -> pb.CollectorMessage:
        """Built in a thread, once per version and region: ~1 s at 50,000
        checks, which must not stall ingest and /healthz."""
        self._forget_other_versions(config)
        message = self._messages.get(region)
        if message is None:
            message = await asyncio.to_thread(config_message, config, region)
            if config.version == self._runs_version:
                self._messages[region] = message
        return message

    def _register(self, agent: AgentConn) -> Refusal | None:
        old = self.agents.get(agent.agent_id)
        if old is not None:
            if (old.identity.token_sha256, old.region) != (
                agent.identity.token_sha256,
                agent.region,
            ):
                return _taken(old, agent)
            old.outbox.put_nowait(None)  # the same agent reconnected: the newer stream wins
        self.agents[agent.agent_id] = agent
        self.metrics.agent_up(agent.agent_id, agent.region)
        log.info(
            "agent.connected", agent=agent.agent_id, region=agent.region, version=agent.version
        )
        return None

    def _unregister(self, agent: AgentConn) -> None:
        if self.agents.get(agent.agent_id) is agent:
            del self.agents[agent.agent_id]
            served = any(a.region == agent.region for a in self.agents.values())
            self.metrics.agent_down(agent.agent_id, agent.region, served)
            log.info(
                "agent.disconnected",
                agent=agent.agent_id,
                region=agent.region,
                unknown=agent.unknown,
            )


async def _refuse(
    context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    requests: AsyncIterator[pb.AgentMessage],
    refusal: Refusal,
) -> NoReturn:
    """End the call with `refusal` once the caller stops sending (at most
    `_DRAIN` seconds): see Connect for why."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _DRAIN
    with contextlib.suppress(Exception):  # any end of the stream ends the drain
        while (left := deadline - loop.time()) > 0:
            await asyncio.wait_for(anext(aiter(requests)), min(_QUIET, left))
    await context.abort(refusal.code, refusal.details)


def _taken(old: AgentConn, new: AgentConn) -> Refusal:
    log.warning("agent.id_taken", agent=new.agent_id, region=new.region, connected=old.region)
    what = "another token" if old.region == new.region else f"region {old.region!r}"
    return Refusal(
        grpc.StatusCode.ALREADY_EXISTS,
        f"agent id {new.agent_id!r} is already connected with {what}; give this agent its "
        "own id (--agent-id or VANTAGE_AGENT_ID), or stop the other agent",
    )


def _batch_refusal(agent: AgentConn, batch: pb.ResultBatch, now: float) -> Refusal | None:
    why = seq_refusal(batch.seq, now)
    if why is not None:
        return Refusal(grpc.StatusCode.INVALID_ARGUMENT, why)
    size = len(batch.results)
    if size > MAX_BATCH_RESULTS:
        return Refusal(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"batch of {size} results, over the maximum of {MAX_BATCH_RESULTS}",
        )
    if not agent.limit.take(size, now):
        return Refusal(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"over {agent.limit.rate:.0f} results/s for this agent: slow down and retry",
        )
    return None
