"""A collector double for agent tests and benchmarks: the real gRPC
contract on loopback, run in a thread of the calling process. It pushes one
config, acks every batch (at once, or `ack_delay` seconds later), and keeps
each result's (check, started_at, success, retry), so a caller can tell how
close to its slot each run started. Only the agent is under test; the
double's CPU is not counted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc

from vantage.v1 import vantage_pb2 as pb
from vantage.v1 import vantage_pb2_grpc as pb_grpc


@dataclass
class Received:
    """What the agents sent, appended by the server thread."""

    results: list[tuple[str, float, bool, bool]] = field(default_factory=list)
    runs_skipped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def since(self, start: int) -> list[tuple[str, float, bool, bool]]:
        """Results received after the first `start` ones."""
        with self.lock:
            return self.results[start:]


class _Service(pb_grpc.CollectorServicer):
    def __init__(self, config: pb.Config, received: Received, ack_delay: float) -> None:
        self.config = config
        self.received = received
        self.ack_delay = ack_delay

    async def Connect(  # gRPC method name
        self, request_iterator: AsyncIterator[pb.AgentMessage], context: object
    ) -> AsyncIterator[pb.CollectorMessage]:
        outbox: asyncio.Queue[pb.CollectorMessage] = asyncio.Queue()
        pending: set[asyncio.Task[None]] = set()

        async def ack(seq: int) -> None:
            await asyncio.sleep(self.ack_delay)
            outbox.put_nowait(pb.CollectorMessage(ack=pb.Ack(seq=seq)))

        async def read() -> None:
            async for message in request_iterator:
                if message.WhichOneof("msg") != "batch":
                    continue
                batch = message.batch
                rows = [(r.check, r.started_at, r.success, r.retry) for r in batch.results]
                with self.received.lock:
                    self.received.results += rows
                    self.received.runs_skipped += batch.runs_skipped
                if self.ack_delay:
                    task = asyncio.create_task(ack(batch.seq))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                else:
                    outbox.put_nowait(pb.CollectorMessage(ack=pb.Ack(seq=batch.seq)))

        reader = asyncio.create_task(read())
        yield pb.CollectorMessage(config=self.config)
        try:
            while True:
                yield await outbox.get()
        finally:
            reader.cancel()
            for task in pending:
                task.cancel()


class CollectorDouble:
    """Serve `config` on a free loopback port until `close()`."""

    def __init__(self, config: pb.Config, ack_delay: float = 0.0) -> None:
        self.received = Received()
        self._config = config
        self._ack_delay = ack_delay
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._started.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = grpc.aio.server()
        pb_grpc.add_CollectorServicer_to_server(
            _Service(self._config, self.received, self._ack_delay), self._server
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._loop.run_until_complete(self._server.start())
        self._started.set()
        self._loop.run_forever()

    def close(self) -> None:
        """Stop serving and end the thread."""
        future = asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop)
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
