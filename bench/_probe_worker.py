"""A worker process that runs probes in bulk, driven by `_common.Worker`.

    python -m bench._probe_worker ours TYPE CHECK_JSON [LOG_LEVEL]
    python -m bench._probe_worker agent TYPE CHECK_JSON SPOOL_DIR
    python -m bench._probe_worker blackbox PROBE_URL
    python -m bench._probe_worker client URL
    python -m bench._probe_worker socket URL

`ours` runs a check of type TYPE on uvloop through the agent's own
`ProbeRunner`, as its scheduler does: the probe with one shared
`new_session()`, the probe counter, and the results serialized in batches
of 500 as the agent's spool does before streaming them. At LOG_LEVEL
`info` it also writes the agent's canonical JSON line per probe (to this
worker's log file); at the default `warning` that line is skipped, as
blackbox_exporter logs nothing per probe. `agent` is the agent's whole
per-probe path, with a collector token registered for redaction as a
running agent has: the log line, each result written to a durable spool in
SPOOL_DIR, cut into batches of 500 encoded for the stream, and acked (the
gRPC write of a 500-result batch, ~1 µs a result, is left out). `blackbox`
is a keep-alive aiohttp client that requests blackbox_exporter's /probe URL
and checks `probe_success 1`, as a Prometheus scrape would.

Two floors show what a probe cannot go below: `client` is a bare GET of
URL and a read of its body through the agent's HTTP client session (fresh
connection, no trace headers, timeout, result, log line or spool), `socket` a minimal
HTTP/1.1 client on uvloop's own transport (connect, one write, read until
the server closes).

After set-up and a warm-up it prints `{"ready": ...}`; then every
`{"n": N, "concurrency": C}` line on stdin runs N probes, C at a time, and
prints `{"ops", "wall", "ok", "failed", "first_failure"}`. Nothing else runs
between request and reply, so the parent reads this process's CPU around
it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import uvloop

from common import logs

Outcome = tuple[bool, str]
OneProbe = Callable[[], Awaitable[Outcome]]
Close = Callable[[], Awaitable[None]]

WARMUP = 200
_BATCH = 500  # the agent's default --batch-size


async def run_many(one: OneProbe, n: int, concurrency: int) -> dict[str, Any]:
    """Run `one` n times with `concurrency` lanes; count and time it."""
    todo = iter(range(n))  # shared: each lane takes the next number
    ok = 0
    errors: list[str] = []

    async def lane() -> None:
        nonlocal ok
        for _ in todo:
            success, message = await one()
            if success:
                ok += 1
            elif not errors:
                errors.append(message)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(concurrency, n))))
    wall = time.perf_counter() - started
    first = errors[0] if errors else ""
    return {"ops": n, "wall": wall, "ok": ok, "failed": n - ok, "first_failure": first}


async def ours(check_type: str, check_json: str) -> tuple[OneProbe, Close]:
    """Our probe for `check_type`, as the agent runs it."""
    # Imported here so a probe module that does not import yet becomes a
    # reported error instead of a crash.
    from agent.metrics import AgentMetrics  # noqa: PLC0415
    from agent.probe_kit.http_client import new_session  # noqa: PLC0415
    from agent.probes import ProbeContext  # noqa: PLC0415
    from agent.runner import ProbeRunner  # noqa: PLC0415
    from common.config import CHECK_TYPES  # noqa: PLC0415
    from vantage.v1 import vantage_pb2 as pb  # noqa: PLC0415

    check = CHECK_TYPES[check_type].model_validate(json.loads(check_json))
    ctx = ProbeContext("bench-agent", "bench", session_factory=new_session)
    pending: list[pb.Result] = []
    last: list[pb.Result] = []

    def spool(result: pb.Result) -> None:
        last[:] = [result]
        pending.append(result)
        if len(pending) >= _BATCH:
            pb.AgentMessage(batch=pb.ResultBatch(seq=1, results=pending)).SerializeToString()
            pending.clear()

    runner = ProbeRunner(ctx, spool, AgentMetrics())

    async def one() -> Outcome:
        success = await runner(check, False)
        return success, last[0].message

    async def close() -> None:
        await ctx.close()

    return one, close


async def agent_path(check_type: str, check_json: str, spool_dir: str) -> tuple[OneProbe, Close]:
    """Our probe with what the agent does around it: scheduler bookkeeping,
    log line, durable spool, batch encoding and ack."""
    import heapq  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from agent.metrics import AgentMetrics  # noqa: PLC0415
    from agent.probe_kit.http_client import new_session  # noqa: PLC0415
    from agent.probes import ProbeContext  # noqa: PLC0415
    from agent.runner import ProbeRunner  # noqa: PLC0415
    from agent.scheduler import after_result  # noqa: PLC0415
    from agent.spool import Spool  # noqa: PLC0415
    from common import redaction  # noqa: PLC0415
    from common.auth import new_token  # noqa: PLC0415
    from common.config import CHECK_TYPES  # noqa: PLC0415
    from vantage.v1 import vantage_pb2 as pb  # noqa: PLC0415

    # A running agent has its collector token registered with the redactor
    # (agent.main), so every result and log line is searched for it.
    redaction.redact(new_token())
    check = CHECK_TYPES[check_type].model_validate(json.loads(check_json))
    ctx = ProbeContext("bench-agent", "bench", session_factory=new_session)
    spool = Spool(Path(spool_dir))
    last: list[pb.Result] = []
    due: list[tuple[float, int]] = []

    def sink(result: pb.Result) -> None:
        last[:] = [result]
        spool.add(result)
        if spool.write_ordinal - spool.live >= _BATCH:
            batch = spool.next_live(_BATCH)
            if batch is not None:
                spool.ack(batch.seq)

    runner = ProbeRunner(ctx, sink, AgentMetrics())

    async def one() -> Outcome:
        success = await runner(check, False)
        heapq.heappush(due, (after_result(time.time(), check, success, False)[0], 0))
        heapq.heappop(due)
        return success, last[0].message

    async def close() -> None:
        spool.close()
        await ctx.close()

    return one, close


async def blackbox(url: str) -> tuple[OneProbe, Close]:
    """A scraper of blackbox_exporter's /probe, on keep-alive connections."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def one() -> Outcome:
        async with session.get(url) as resp:
            body = await resp.text()
        if resp.status == 200 and "\nprobe_success 1" in body:
            return True, ""
        return False, f"status {resp.status}: {body[-300:]}"

    return one, session.close


async def bare_client(url: str) -> tuple[OneProbe, Close]:
    """A GET of `url` through the agent's HTTP client session and nothing else."""
    from agent.probe_kit.http_client import new_session  # noqa: PLC0415
    from agent.probe_kit.http_phases import PhaseClock  # noqa: PLC0415
    from agent.probe_kit.http_request import Tls, target  # noqa: PLC0415
    from agent.probe_kit.http_wire import BodyReader  # noqa: PLC0415

    session, where, tls = new_session(), target(url), Tls()
    reader = BodyReader(limit=0, keep=True)

    async def one() -> Outcome:
        clock = PhaseClock(tls=where.tls)
        resp = await session.send("GET", where, {}, None, tls=tls, clock=clock, reader=reader)
        return resp.status == 200, f"status {resp.status}"

    async def close() -> None:
        pass

    return one, close


class _Get(asyncio.Protocol):
    """Sends one request when connected; the reply ends with the connection."""

    def __init__(self, request: bytes, done: asyncio.Future[bytes]) -> None:
        self.request, self.done, self.reply = request, done, bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast("asyncio.Transport", transport).write(self.request)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.reply += data

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(bytes(self.reply))


async def bare_socket(url: str) -> tuple[OneProbe, Close]:
    """A minimal HTTP/1.1 GET of `url` on uvloop's transport."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
    )
    loop = asyncio.get_running_loop()

    async def one() -> Outcome:
        done: asyncio.Future[bytes] = loop.create_future()
        await loop.create_connection(lambda: _Get(request.encode(), done), host, port)
        reply = await done
        return reply.startswith(b"HTTP/1.1 200"), reply[:100].decode(errors="replace")

    async def close() -> None:
        pass

    return one, close


_FLOORS = {"client": bare_client, "socket": bare_socket}


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str]) -> int:
    """Set up, warm up, then serve run requests until stdin closes."""
    # The agent logs one line per probe at info; to stderr (the worker's log
    # file), never stdout, which carries the replies.
    level = argv[3] if argv[0] == "ours" and len(argv) > 3 else "warning"
    level = "info" if argv[0] == "agent" else level
    logs.setup("bench-worker", level, json=True)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        if argv[0] == "ours":
            one, close = loop.run_until_complete(ours(argv[1], argv[2]))
        elif argv[0] == "agent":
            one, close = loop.run_until_complete(agent_path(argv[1], argv[2], argv[3]))
        elif argv[0] in _FLOORS:
            one, close = loop.run_until_complete(_FLOORS[argv[0]](argv[1]))
        else:
            one, close = loop.run_until_complete(blackbox(argv[1]))
        warm = loop.run_until_complete(run_many(one, WARMUP, 8))
    except Exception as exc:  # noqa: BLE001  # any set-up failure goes to the parent, which names it
        _reply({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _reply({"ready": True, "warmup_ok": warm["ok"], "warmup_failure": warm["first_failure"]})
    for line in sys.stdin:
        request = json.loads(line)
        _reply(loop.run_until_complete(run_many(one, request["n"], request["concurrency"])))
    loop.run_until_complete(close())
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
