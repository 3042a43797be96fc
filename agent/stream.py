"""The agent's long-lived gRPC stream to one collector.

Hello first; then the collector sends Config and Acks while the agent sends
ResultBatches from that collector's spool: live results at once, the
backlog of an outage at `backfill_rate` results a second, oldest first.

A dropped stream is retried with exponential backoff and jitter; the
backoff starts over after a stream that lived longer than `_STABLE`. Only
UNAVAILABLE-like statuses are retried: UNAUTHENTICATED, PERMISSION_DENIED
and ALREADY_EXISTS stop the agent with one line, as does an HTTP/1 server
where the collector's gRPC port should be. Keepalive pings notice a dead
peer within `keepalive` * 2 seconds. Probing goes on while disconnected:
results wait in the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

import grpc
import structlog

from agent.metrics import AgentMetrics
from agent.settings import Settings
from agent.spool import Spool
from common import __version__
from common.errors import FatalError, TransientError
from vantage.v1 import vantage_pb2 as pb

log = structlog.get_logger("agent.stream")

_FATAL = {
    grpc.StatusCode.UNAUTHENTICATED: "the token is not valid",
    grpc.StatusCode.PERMISSION_DENIED: "this token may not report as this agent or region",
    grpc.StatusCode.ALREADY_EXISTS: "another agent is connected with this id: set --agent-id",
}
_HTTP1 = ("http1.x server", "Expected SETTINGS frame")
"""What gRPC core says when the address answers HTTP/1 (the collector's
HTTP port, or a web server): 'Trying to connect an http1.x server', or
'Failed parsing HTTP/2 (Expected SETTINGS frame as the first frame, ...)'."""
_MAX_IN_FLIGHT = 64
_STABLE = 60.0
"""A stream that lived this long resets the reconnect backoff."""
MAX_CONFIG_BYTES = 256 << 20
"""The largest message the agent takes from its collector. The config of a
50,000-check fleet is about 6 MB, past gRPC's 4 MiB default, which would
refuse it and leave the agent reconnecting without checks."""
_METHOD = "/vantage.v1.Collector/Connect"


def classify_rpc_error(error: grpc.aio.AioRpcError, collector: str) -> Exception:
    """Map a failed call to TransientError or FatalError (see `classify_status`)."""
    return classify_status(error.code(), error.details() or "", collector)


def classify_status(code: grpc.StatusCode, details: str, collector: str) -> Exception:
    """Map a gRPC status to TransientError or FatalError (with a message
    that says what to change)."""
    if code in _FATAL:
        return FatalError(
            f"collector {collector} refused this agent: {code.name}: {_FATAL[code]} ({details})"
        )
    if any(marker in details for marker in _HTTP1):
        return FatalError(
            f"{collector} answers HTTP/1, not gRPC: is that the collector's HTTP port? "
            "--collector takes its gRPC address (--grpc-listen, 9790 by default)"
        )
    return TransientError(f"{code.name}: {details}")


async def _ended(call: Any, collector: str, exc: Exception) -> Exception:
    """Why a call that refused a write ended: its status when the collector
    ended it with one, else a transient break."""
    try:
        code = await asyncio.wait_for(call.code(), 1.0)
        details = await call.details()
    except TimeoutError:
        code = None  # not ended after all
    if code is None or code is grpc.StatusCode.OK:
        return TransientError(f"stream broke: {exc}")
    return classify_status(code, details or "", collector)


def backoff(attempt: int, jitter: float, initial: float = 0.5, cap: float = 10.0) -> float:
    """Seconds to wait before reconnect `attempt` (0-based): exponential,
    capped, plus `jitter` (drawn by the caller in [0, 1)).

    The cap is short because a collector that comes back after a restart
    must hear from its agents within an interval or two: results that wait
    longer arrive late and can only be reported late, not paged. One
    attempt per agent every ~10 s costs a down collector nothing."""
    return float(min(cap, initial * 2**attempt)) + jitter


def attempt_after(attempt: int, lived: float) -> int:
    """The backoff attempt for the next reconnect, after a stream that
    lived `lived` seconds: a stable stream starts the backoff over."""
    return 0 if lived > _STABLE else attempt


class RateBudget:
    """A token bucket of results per second, one second of burst."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.at = now

    def take(self, want: int, now: float) -> int:
        """How many of `want` results may go now (taken from the budget)."""
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        granted = min(want, int(self.tokens))
        self.tokens -= granted
        return granted


def _serialize(message: bytes | pb.AgentMessage) -> bytes:
    # Batches leave the spool already encoded; only the Hello is a message.
    return message if isinstance(message, bytes) else message.SerializeToString()


class StreamClient:
    """Keeps one collector's stream up and moves results from its spool."""

    def __init__(
        self,
        settings: Settings,
        collector: str,
        spool: Spool,
        on_config: Callable[[StreamClient, pb.Config], None],
        metrics: AgentMetrics,
    ) -> None:
        self.settings = settings
        self.collector = collector
        self.spool = spool
        self.on_config = on_config
        self.metrics = metrics
        self.runs_skipped = 0
        """Runs of this collector's checks shed since the last batch."""
        self.config_version = ""
        self.wakeup = asyncio.Event()
        self.connected = False
        self.last_error = ""

    def notify(self) -> None:
        """A result was spooled: flush early if a batch is full."""
        if self.spool.write_ordinal - self.spool.live >= self.settings.batch_size:
            self.wakeup.set()

    async def run_forever(self) -> None:
        """Connect, stream, reconnect on transient errors; raise FatalError."""
        attempt = 0
        while True:
            began = time.monotonic()
            try:
                await self._session()
            except TransientError as exc:
                self.last_error = str(exc)
                attempt = attempt_after(attempt, time.monotonic() - began)
                delay = backoff(attempt, random.random())  # noqa: S311 - jitter, not crypto
                attempt += 1
                self.metrics.reconnects.inc()
                log.warning(
                    "stream.reconnect_scheduled",
                    collector=self.collector,
                    in_seconds=round(delay, 2),
                    error=str(exc),
                )
                await asyncio.sleep(delay)

    def _channel(self) -> grpc.aio.Channel:
        keepalive_ms = int(self.settings.keepalive * 1000)
        options = [
            ("grpc.keepalive_time_ms", keepalive_ms),
            ("grpc.keepalive_timeout_ms", keepalive_ms),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.http2.min_time_between_pings_ms", keepalive_ms),
            # gRPC 1.85 keeps a stream that writes alive past an unanswered
            # keepalive ping; the ping timeout is what ends it.
            ("grpc.http2.ping_timeout_ms", keepalive_ms),
            ("grpc.max_receive_message_length", MAX_CONFIG_BYTES),
        ]
        if self.settings.tls_ca:
            with open(self.settings.tls_ca, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            return grpc.aio.secure_channel(self.collector, creds, options=options)
        return grpc.aio.insecure_channel(self.collector, options=options)

    async def _session(self) -> None:
        async with self._channel() as channel:
            connect = channel.stream_stream(
                _METHOD,
                request_serializer=_serialize,
                response_deserializer=pb.CollectorMessage.FromString,
            )
            call = connect(metadata=(("authorization", f"Bearer {self.settings.token}"),))
            try:
                await self._hello(call)
                await self._pump(call)
            except grpc.aio.AioRpcError as exc:
                raise classify_rpc_error(exc, self.collector) from exc
            except (asyncio.InvalidStateError, grpc.aio.UsageError) as exc:
                # A write after the collector ended the call: the status it
                # ended with (a revoked token) decides, not the write.
                raise await _ended(call, self.collector, exc) from exc
            finally:
                call.cancel()
                self._set_connected(False)

    async def _hello(self, call: Any) -> None:
        s = self.settings
        hello = pb.Hello(
            agent_id=s.agent_id,
            region=s.region,
            version=__version__,
            config_version=self.config_version,
        )
        await call.write(pb.AgentMessage(hello=hello))

    async def _pump(self, call: Any) -> None:
        reader = asyncio.create_task(self._read(call))
        budget = RateBudget(self.settings.backfill_rate, time.monotonic())
        try:
            for message in self.spool.rewind():
                await call.write(message)
            while not reader.done():
                await self._flush_once(call, budget)
            reader.result()
        finally:
            reader.cancel()

    async def _flush_once(self, call: Any, budget: RateBudget) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), self.settings.flush_interval)
        self.wakeup.clear()
        try:
            await self._send_live(call)
            await self._send_backlog(call, budget)
        except OSError as exc:  # a batch could not be recorded: retried next flush
            log.warning("spool.batch_not_recorded", collector=self.collector, error=str(exc))

    async def _send_live(self, call: Any) -> None:
        spool = self.spool
        while len(spool.in_flight) < _MAX_IN_FLIGHT:
            skipped, self.runs_skipped = self.runs_skipped, 0
            try:
                batch = spool.next_live(self.settings.batch_size, skipped)
            except OSError:
                self.runs_skipped += skipped
                raise
            if batch is None:
                break
            await call.write(batch.message)

    async def _send_backlog(self, call: Any, budget: RateBudget) -> None:
        size, spool = self.settings.batch_size, self.spool
        while len(spool.in_flight) < _MAX_IN_FLIGHT and spool.backlog:
            granted = budget.take(min(size, spool.backlog_count), time.monotonic())
            batch = spool.next_backlog(granted) if granted else None
            if batch is None:
                break
            await call.write(batch.message)

    async def _read(self, call: Any) -> None:
        async for message in call:
            kind = message.WhichOneof("msg")
            if kind == "config":
                self._set_connected(True)
                self.config_version = message.config.version
                self.on_config(self, message.config)
            elif kind == "ack":
                self.spool.ack(message.ack.seq)
        raise TransientError("collector closed the stream")

    def _set_connected(self, up: bool) -> None:
        if up != self.connected:
            log.info("stream.connected" if up else "stream.disconnected", collector=self.collector)
        if up:
            self.last_error = ""
        self.connected = up
        self.metrics.connected.labels(self.collector).set(1 if up else 0)
