"""The agent's one long-lived gRPC stream to the collector.

Hello first; then the collector sends Config and Acks while the agent sends
ResultBatches. A dropped stream is retried with exponential backoff and
jitter (tenacity) on transient errors only; UNAUTHENTICATED and
PERMISSION_DENIED are fatal. Probing goes on while disconnected: results wait
in the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import grpc
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from agent.metrics import AgentMetrics
from agent.settings import Settings
from agent.spool import Spool
from common import __version__
from common.errors import FatalError, TransientError
from vantage.v1 import vantage_pb2 as pb
from vantage.v1 import vantage_pb2_grpc as pb_grpc

log = structlog.get_logger("agent.stream")

_FATAL = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
_MAX_IN_FLIGHT = 64


def classify_rpc_error(error: grpc.aio.AioRpcError) -> Exception:
    """Map a gRPC status to TransientError or FatalError."""
    if error.code() in _FATAL:
        return FatalError(f"collector refused this agent: {error.code().name}: {error.details()}")
    return TransientError(f"{error.code().name}: {error.details()}")


class StreamClient:
    """Keeps the stream up and moves results from the spool to the collector."""

    def __init__(
        self,
        settings: Settings,
        spool: Spool,
        on_config: Callable[[pb.Config], None],
        metrics: AgentMetrics,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self.on_config = on_config
        self.metrics = metrics
        self.config_version = ""
        self.wakeup = asyncio.Event()
        self.connected = False

    def notify(self) -> None:
        """A result was spooled: flush early if a batch is full."""
        if len(self.spool.pending) >= self.settings.batch_size:
            self.wakeup.set()

    async def run_forever(self) -> None:
        """Connect, stream, reconnect on transient errors; raise FatalError."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            wait=wait_exponential_jitter(initial=0.5, max=30, jitter=1),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._session()

    def _before_sleep(self, state: RetryCallState) -> None:
        self.metrics.reconnects.inc()
        delay = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        log.warning("stream.reconnect_scheduled", in_seconds=round(delay, 2), error=str(error))

    def _channel(self) -> grpc.aio.Channel:
        options = [("grpc.keepalive_time_ms", 20_000), ("grpc.keepalive_timeout_ms", 10_000)]
        if self.settings.tls_ca:
            with open(self.settings.tls_ca, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            return grpc.aio.secure_channel(self.settings.collector, creds, options=options)
        return grpc.aio.insecure_channel(self.settings.collector, options=options)

    async def _session(self) -> None:
        async with self._channel() as channel:
            stub = pb_grpc.CollectorStub(channel)
            call = stub.Connect(metadata=(("authorization", f"Bearer {self.settings.token}"),))
            try:
                await self._hello(call)
                await self._pump(call)
            except grpc.aio.AioRpcError as exc:
                raise classify_rpc_error(exc) from exc
            except (asyncio.InvalidStateError, grpc.aio.UsageError) as exc:
                raise TransientError(f"stream broke: {exc}") from exc
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
        try:
            for batch in self.spool.unacked():
                await call.write(pb.AgentMessage(batch=batch))
            while not reader.done():
                await self._flush_once(call)
            reader.result()
        finally:
            reader.cancel()

    async def _flush_once(self, call: Any) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), self.settings.flush_interval)
        self.wakeup.clear()
        while len(self.spool.in_flight) < _MAX_IN_FLIGHT:
            batch = self.spool.next_batch(self.settings.batch_size)
            if batch is None:
                break
            await call.write(pb.AgentMessage(batch=batch))
        self.metrics.spooled.set(len(self.spool))

    async def _read(self, call: Any) -> None:
        async for message in call:
            kind = message.WhichOneof("msg")
            if kind == "config":
                self._set_connected(True)
                self.config_version = message.config.version
                self.on_config(message.config)
            elif kind == "ack":
                self.spool.ack(message.ack.seq)
        raise TransientError("collector closed the stream")

    def _set_connected(self, up: bool) -> None:
        if up != self.connected:
            log.info(
                "stream.connected" if up else "stream.disconnected",
                collector=self.settings.collector,
            )
        self.connected = up
        self.metrics.connected.set(1 if up else 0)
