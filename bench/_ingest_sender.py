"""A fake fleet that streams result batches to a collector, driven by
`_common.Worker`.

    python -m bench._ingest_sender HOST:PORT TOKEN CHECKS REGION[,REGION...]

One stream per region, as one agent per region would open: Hello, read the
Config, then ResultBatch messages with increasing seq, keeping at most
`WINDOW` batches unacked. Two traffic patterns:

- **production** (`{"op": "prepare", "pattern": "production", "minutes": M,
  "start": T, "batch": 8, "rate": R}`): every (check, region) once per
  60-second interval at its own offset in the interval, for M intervals of
  probe time from T, in batches of `batch`, 2% failures. With `rate`
  (results/s over all streams) it is paced in real time; without, it is
  sent as fast as the collector acks (an hour of data, faster than real
  time: the collector counts a result when it *ended*, so its windows hold
  the same data either way).
- **best** (`{"op": "prepare", "pattern": "best", "total": T, "batch": 500}`):
  the old benchmark's pattern, kept as a labelled second line: results that
  end in one open 10-second slot, in batches of 500.

`{"op": "go"}` sends, waits for every Ack, closes the streams and replies
`{"ops", "wall", "batches", "sender_cpu"}`.

Results are built from per-check templates serialized once: protobuf keeps
the last value of a repeated scalar field, so a result is its template
followed by its own start time, duration and request id.
"""

from __future__ import annotations

import asyncio
import json
import random
import struct
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import uvloop

from agent.spool import encode_batch, varint
from vantage.v1 import vantage_pb2 as pb

WINDOW = 16
"""Unacked batches per stream."""
INTERVAL = 60.0
FAILURES = 0.02
_METHOD = "/vantage.v1.Collector/Connect"
_OPTIONS = [("grpc.max_receive_message_length", 256 << 20)]
"""A config of 50,000 checks is ~6 MB, over gRPC's default 4 MB."""
_PHASES = ("resolve", "connect", "tls", "processing", "transfer")


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def template(check: str, region: str, rng: random.Random, ok: bool) -> bytes:
    """One realistic http result without its times and request id."""
    phases = {name: rng.uniform(0.0005, 0.05) for name in _PHASES}
    result = pb.Result(
        check=check,
        check_type="http",
        agent_id=f"agent-{region}",
        region=region,
        success=ok,
        phases=pb.Phases(**phases),
        release="portal-2026.11.27-1",
    )
    details = result.http
    details.final_url = f"https://{check}.example.com/healthz"
    details.http_version = "1.1"
    details.status_code, details.body_bytes = (200 if ok else 503), rng.randint(200, 40_000)
    if not ok:
        result.reason = pb.FAILURE_REASON_HTTP_STATUS
        result.message = "status 503, want 2xx"
    return result.SerializeToString()


def instance(template_bytes: bytes, started_at: float, duration: float, request: int) -> bytes:
    """A result: the template, then started_at (5), duration (6), request_id (11)."""
    return (
        template_bytes
        + b"\x29"
        + struct.pack("<d", started_at)
        + b"\x31"
        + struct.pack("<d", duration)
        + _field(11, f"{request:032x}".encode())
    )


@dataclass
class Stream:
    """One agent's open stream."""

    channel: grpc.aio.Channel
    call: Any
    sent: int = 0
    acked: int = 0
    window: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(WINDOW))
    all_acked: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: bytes) -> None:
        """Send one batch once fewer than WINDOW are unacked."""
        await self.window.acquire()
        await self.call.write(message)
        self.sent += 1

    async def read_acks(self) -> None:
        """Release the window for each Ack until the stream ends."""
        while True:
            message = await self.call.read()
            if not isinstance(message, pb.CollectorMessage):  # grpc.aio.EOF
                return
            if message.WhichOneof("msg") == "ack":
                self.acked += 1
                self.window.release()
                if self.acked >= self.sent:
                    self.all_acked.set()
            elif message.WhichOneof("msg") is None:
                raise RuntimeError(f"unexpected message {message!r}")

    async def close(self) -> None:
        """Wait for every ack, then end the stream."""
        if self.acked < self.sent:
            self.all_acked.clear()
            await self.all_acked.wait()
        await self.call.done_writing()
        await self.channel.close()


class Fleet:
    """The sender's state between requests."""

    def __init__(self, address: str, token: str, checks: int, regions: list[str]) -> None:
        self.address, self.token, self.regions = address, token, regions
        rng = random.Random(7)
        self.names = [f"check-{i:05d}" for i in range(checks)]
        self.ok = {r: [template(c, r, rng, True) for c in self.names] for r in regions}
        self.failed = {r: [template(c, r, rng, False) for c in self.names] for r in regions}
        # Each check probes at its own offset in the interval (a stable hash,
        # as the agent's scheduler spreads them), so batches mix checks.
        self.offsets = [zlib.crc32(c.encode()) % 60_000 / 1000 for c in self.names]
        self.order = sorted(range(checks), key=self.offsets.__getitem__)
        self.request = 0
        self.plan: dict[str, Any] = {}
        self.streams: dict[str, Stream] = {}

    def minute(self, region: str, start: float, rng: random.Random) -> Iterator[bytes]:
        """Every check of `region` once, in probe-time order from `start`."""
        ok, failed = self.ok[region], self.failed[region]
        for index in self.order:
            self.request += 1
            duration = rng.lognormvariate(-3.0, 0.5)
            picked = failed[index] if rng.random() < FAILURES else ok[index]
            yield instance(picked, start + self.offsets[index], duration, self.request)

    def best(self, region: str, total: int, rng: random.Random) -> Iterator[bytes]:
        """The old best case: everything ends in one open 10-second slot."""
        now = time.time()
        ok, count = self.ok[region], len(self.names)
        for i in range(total):
            self.request += 1
            yield instance(ok[i % count], now - 5 + rng.random() * 4, 0.05, self.request)

    async def prepare(self, plan: dict[str, Any], tag: str) -> dict[str, Any]:
        """Open one stream per region; the batches are built while sending."""
        self.plan = plan
        self.streams = {}
        for region in self.regions:
            self.streams[region] = await self._open(f"bench-{region}-{tag}", region)
        return {"prepared": len(self.streams)}

    async def _open(self, agent_id: str, region: str) -> Stream:
        channel = grpc.aio.insecure_channel(self.address, options=_OPTIONS)
        connect: grpc.aio.StreamStreamMultiCallable[bytes, pb.CollectorMessage]
        connect = channel.stream_stream(
            _METHOD, request_serializer=None, response_deserializer=pb.CollectorMessage.FromString
        )
        call = connect(metadata=(("authorization", f"Bearer {self.token}"),))
        hello = pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, region=region, version="bench"))
        await call.write(hello.SerializeToString())
        first = await call.read()
        if not isinstance(first, pb.CollectorMessage) or first.WhichOneof("msg") != "config":
            raise RuntimeError(f"{agent_id}: expected Config first, got {first!r}")
        return Stream(channel, call)

    async def go(self) -> dict[str, Any]:
        """Send the prepared plan on every stream at once; time it."""
        cpu, started = time.process_time(), time.perf_counter()
        readers = [asyncio.create_task(s.read_acks()) for s in self.streams.values()]
        async with asyncio.timeout(3600):
            counts = await asyncio.gather(*(self._send(r) for r in self.streams))
            for stream in self.streams.values():
                await stream.close()
        wall = time.perf_counter() - started
        for reader in readers:
            reader.cancel()
        return {
            "ops": sum(counts),
            "wall": wall,
            "batches": sum(s.sent for s in self.streams.values()),
            "sender_cpu": time.process_time() - cpu,
        }

    async def _send(self, region: str) -> int:
        plan, stream = self.plan, self.streams[region]
        rng = random.Random(region)
        size = int(plan.get("batch", 8))
        if plan["pattern"] == "best":
            results: Iterator[bytes] = self.best(region, int(plan["total"]), rng)
        else:
            start, minutes = float(plan["start"]), int(plan["minutes"])
            results = (r for m in range(minutes) for r in self.minute(region, start + m * 60, rng))
        rate = plan.get("rate")
        per_stream = float(rate) / len(self.regions) if rate else None
        sent, began, chunk = 0, time.monotonic(), []
        for result in results:
            chunk.append(result)
            if len(chunk) == size:
                sent += await self._batch(stream, chunk, per_stream, began, sent)
                chunk = []
        if chunk:
            sent += await self._batch(stream, chunk, per_stream, began, sent)
        return sent

    async def _batch(
        self, stream: Stream, chunk: list[bytes], per_stream: float | None, began: float, sent: int
    ) -> int:
        if per_stream is not None:  # paced: this batch is due when its results are
            due = began + (sent + len(chunk)) / per_stream
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await stream.send(encode_batch(stream.sent + 1, list(chunk)))
        return len(chunk)


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str]) -> int:
    """Serve prepare/go requests until stdin closes."""
    address, token, checks, regions = argv
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    fleet = Fleet(address, token, int(checks), regions.split(","))
    _reply({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "prepare":
                _reply(loop.run_until_complete(fleet.prepare(request, request["tag"])))
            else:
                _reply(loop.run_until_complete(fleet.go()))
        except (grpc.aio.AioRpcError, RuntimeError, TimeoutError) as exc:
            _reply({"error": f"{type(exc).__name__}: {exc}"})
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
