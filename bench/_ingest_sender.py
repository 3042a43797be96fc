"""A fake fleet that streams result batches to a collector, driven by
`_common.Worker`.

    python -m bench._ingest_sender HOST:PORT TOKEN CHECKS REGION[,REGION...]

One stream per region, as one agent per region would open: Hello, read the
Config, then ResultBatch messages with increasing seq, keeping at most
`WINDOW` batches unacked. Requests:

- `{"op": "prepare", "batch": B, "total": T, "tag": S}` builds T realistic
  http results in batches of B (serialized up front, so the sender costs
  little while measured) and opens the streams as agents `bench-REGION-S`.
- `{"op": "go"}` sends everything, waits for every Ack, closes the streams
  and replies `{"ops", "wall", "batches", "sender_cpu"}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import uvloop

from vantage.v1 import vantage_pb2 as pb

WINDOW = 16
"""Unacked batches per stream."""
_METHOD = "/vantage.v1.Collector/Connect"
_PHASES = ("resolve", "connect", "tls", "processing", "transfer")


def http_result(check: str, region: str, rng: random.Random, now: float) -> pb.Result:
    """One realistic http result: phases, request id, details; 3% fail."""
    phases = {name: rng.uniform(0.0005, 0.08) for name in _PHASES}
    result = pb.Result(
        check=check,
        check_type="http",
        agent_id=f"agent-{region}",
        region=region,
        started_at=now - rng.uniform(0, 60),
        duration_seconds=sum(phases.values()),
        success=True,
        phases=pb.Phases(**phases),
        request_id=os.urandom(16).hex(),
        release="portal-2026.11.27-1",
    )
    details = result.http
    details.final_url = f"https://{check}.example.com/healthz"
    details.http_version = "1.1"
    details.status_code, details.body_bytes = 200, rng.randint(200, 40_000)
    if rng.random() < 0.03:
        result.success = False
        result.reason = pb.FAILURE_REASON_HTTP_STATUS
        result.message = "status 503, want 2xx"
        details.status_code = 503
    return result


def build_batches(pool: Sequence[pb.Result], batch: int, total: int) -> list[bytes]:
    """Serialized AgentMessages of `batch` results each, seq 1, 2, ...

    Protobuf merges a message field that appears twice on the wire, so a
    message is its seq part followed by a results part; the few distinct
    results parts are serialized once.
    """
    bodies: dict[tuple[int, int], bytes] = {}
    messages = []
    for seq, start in enumerate(range(0, total, batch), start=1):
        key = (start % len(pool), min(batch, total - start))
        body = bodies.get(key)
        if body is None:
            picked = [pool[(key[0] + j) % len(pool)] for j in range(key[1])]
            body = bodies[key] = _message(pb.ResultBatch(results=picked))
        messages.append(_message(pb.ResultBatch(seq=seq)) + body)
    check = pb.AgentMessage.FromString(messages[-1])
    assert check.batch.seq == len(messages)
    assert len(check.batch.results) == key[1]
    return messages


def _message(batch: pb.ResultBatch) -> bytes:
    return pb.AgentMessage(batch=batch).SerializeToString()


@dataclass
class Stream:
    """One agent's open stream and the batches it will send."""

    channel: grpc.aio.Channel
    call: Any
    messages: list[bytes]

    async def send_all(self) -> None:
        """Send every batch with at most WINDOW unacked; wait for all acks."""
        window = asyncio.Semaphore(WINDOW)
        reader = asyncio.create_task(self._acks(window))
        for message in self.messages:
            await window.acquire()
            await self.call.write(message)
        await reader
        await self.call.done_writing()
        await self.channel.close()

    async def _acks(self, window: asyncio.Semaphore) -> None:
        acked = 0
        while acked < len(self.messages):
            message = await self.call.read()
            if not isinstance(message, pb.CollectorMessage):  # grpc.aio.EOF
                raise RuntimeError(f"stream ended after {acked} acks")
            if message.WhichOneof("msg") == "ack":
                acked += 1
                window.release()


class Fleet:
    """The sender's state between requests."""

    def __init__(self, address: str, token: str, checks: int, regions: list[str]) -> None:
        self.address, self.token, self.regions = address, token, regions
        rng, now = random.Random(7), time.time()
        names = [f"check-{i:04d}" for i in range(checks)]
        self.pools = {r: [http_result(c, r, rng, now) for c in names] for r in regions}
        self.streams: list[Stream] = []
        self.total = 0

    async def prepare(self, batch: int, total: int, tag: str) -> dict[str, Any]:
        """Build the batches and open one stream per region."""
        share = total // len(self.regions)
        self.total = share * len(self.regions)
        self.streams = []
        for region in self.regions:
            messages = build_batches(self.pools[region], batch, share)
            self.streams.append(await self._open(f"bench-{region}-{tag}", region, messages))
        return {"prepared": sum(len(s.messages) for s in self.streams)}

    async def _open(self, agent_id: str, region: str, messages: list[bytes]) -> Stream:
        channel = grpc.aio.insecure_channel(self.address)
        # Requests are already bytes: no serializer, so none runs while measured.
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
        return Stream(channel, call, messages)

    async def go(self) -> dict[str, Any]:
        """Send every stream's batches at once; time it."""
        cpu, started = time.process_time(), time.perf_counter()
        async with asyncio.timeout(120):
            await asyncio.gather(*(s.send_all() for s in self.streams))
        wall = time.perf_counter() - started
        batches = sum(len(s.messages) for s in self.streams)
        return {
            "ops": self.total,
            "wall": wall,
            "batches": batches,
            "sender_cpu": time.process_time() - cpu,
        }


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
                reply = fleet.prepare(request["batch"], request["total"], request["tag"])
                _reply(loop.run_until_complete(reply))
            else:
                _reply(loop.run_until_complete(fleet.go()))
        except (grpc.aio.AioRpcError, RuntimeError, TimeoutError) as exc:
            _reply({"error": f"{type(exc).__name__}: {exc}"})
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
