"""The stream's pure parts: which gRPC statuses stop the agent, the
reconnect backoff, and the backfill budget."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest

from agent import settings
from agent.metrics import AgentMetrics
from agent.spool import Spool
from agent.stream import (
    RateBudget,
    StreamClient,
    _ended,
    attempt_after,
    backoff,
    classify_rpc_error,
)
from common.errors import FatalError, TransientError
from vantage.v1 import vantage_pb2 as pb


class RpcError(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize(
    ("code", "details", "kind", "says"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, "bad token", FatalError, "UNAUTHENTICATED"),
        (grpc.StatusCode.PERMISSION_DENIED, "claims x", FatalError, "may not report as"),
        (grpc.StatusCode.ALREADY_EXISTS, "id taken", FatalError, "set --agent-id"),
        (grpc.StatusCode.UNAVAILABLE, "connection refused", TransientError, "UNAVAILABLE"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", TransientError, "RESOURCE_EXHAUSTED"),
        (
            grpc.StatusCode.UNAVAILABLE,
            "Failed parsing HTTP/2 (Expected SETTINGS frame as the first frame, got 79)",
            FatalError,
            "answers HTTP/1, not gRPC",
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "Trying to connect an http1.x server",
            FatalError,
            "collector's HTTP port",
        ),
    ],
    ids=["token", "permission", "id-taken", "unavailable", "rate", "http-port", "http1"],
)
def test_statuses_map_to_fatal_or_transient(
    code: grpc.StatusCode, details: str, kind: type[Exception], says: str
) -> None:
    error = classify_rpc_error(RpcError(code, details), "127.0.0.1:9791")
    assert isinstance(error, kind)
    assert says in str(error)
    assert "\n" not in str(error)


class EndedCall:
    """A call the collector ended (or not) when a write was refused."""

    def __init__(self, code: grpc.StatusCode | None, details: str = "") -> None:
        self._code, self._details = code, details

    async def code(self) -> grpc.StatusCode:
        if self._code is None:
            await asyncio.sleep(3600)  # still open: never ends
        assert self._code is not None
        return self._code

    async def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "kind", "says"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, FatalError, "UNAUTHENTICATED"),
        (grpc.StatusCode.PERMISSION_DENIED, FatalError, "may not report as"),
        (grpc.StatusCode.OK, TransientError, "stream broke"),
        (grpc.StatusCode.UNAVAILABLE, TransientError, "UNAVAILABLE"),
        (None, TransientError, "stream broke"),
    ],
    ids=["revoked", "permission", "ended-ok", "unavailable", "not-ended"],
)
def test_a_refused_write_reports_the_status_the_call_ended_with(
    code: grpc.StatusCode | None, kind: type[Exception], says: str
) -> None:
    """A revoked token ends the call while the agent writes: the write's
    `RPC already finished` must not hide the UNAUTHENTICATED that stops it."""
    write_error = asyncio.InvalidStateError("RPC already finished.")
    error = asyncio.run(
        _ended(EndedCall(code, "agent token revoked"), "127.0.0.1:9791", write_error)
    )
    assert isinstance(error, kind)
    assert says in str(error)


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [(0, 0.0, 0.5), (1, 0.0, 1.0), (3, 0.5, 4.5), (5, 0.0, 10.0), (40, 0.9, 10.9)],
    ids=["first", "second", "fourth-jittered", "capped", "far-capped"],
)
def test_backoff_doubles_up_to_the_cap(attempt: int, jitter: float, delay: float) -> None:
    assert backoff(attempt, jitter) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("attempt", "lived", "next_attempt"),
    [(5, 0.2, 5), (5, 59.0, 5), (5, 61.0, 0), (0, 3600.0, 0)],
    ids=["failed-at-once", "under-a-minute", "stable-resets", "first"],
)
def test_a_stream_that_lived_over_a_minute_resets_the_backoff(
    attempt: int, lived: float, next_attempt: int
) -> None:
    assert attempt_after(attempt, lived) == next_attempt


@pytest.mark.parametrize(
    ("steps", "granted"),
    [
        ([(0.0, 500)], [100]),
        ([(0.0, 60), (0.0, 60)], [60, 40]),
        ([(0.0, 100), (0.5, 100)], [100, 50]),
        ([(0.0, 100), (10.0, 500)], [100, 100]),
    ],
    ids=["burst-is-one-second", "shared-within-a-second", "refills-with-time", "refill-capped"],
)
def test_backfill_budget_is_a_token_bucket(
    steps: list[tuple[float, int]], granted: list[int]
) -> None:
    budget = RateBudget(100.0, now=0.0)
    assert [budget.take(want, now) for now, want in steps] == granted


class FakeCall:
    """What the stream writes, decoded."""

    def __init__(self) -> None:
        self.batches: list[pb.ResultBatch] = []

    async def write(self, message: bytes) -> None:
        self.batches.append(pb.AgentMessage.FromString(message).batch)


async def test_backfill_goes_oldest_first_at_its_rate_while_live_results_go_at_once(
    tmp_path: Path,
) -> None:
    argv = ["--collector", "127.0.0.1:1", "--region", "eu-west", "--token", "t0ken"]
    s = settings.load([*argv, "--state-dir", str(tmp_path), "--flush-interval", "0.01"])
    spool = Spool(tmp_path / "spool")
    for i in range(1000):
        spool.add(pb.Result(check=f"old-{i}", started_at=float(i)))
    spool.rewind()  # a reconnect: what was spooled is now backlog
    for i in range(3):
        spool.add(pb.Result(check=f"new-{i}", started_at=2000.0 + i))
    stream = StreamClient(s, "127.0.0.1:1", spool, lambda *_: None, AgentMetrics())
    stream.runs_skipped = 4
    call, budget = FakeCall(), RateBudget(100.0, now=time.monotonic())
    await stream._flush_once(call, budget)
    live, *backfill = call.batches
    assert [r.check for r in live.results] == ["new-0", "new-1", "new-2"]
    assert live.runs_skipped == 4 and stream.runs_skipped == 0
    sent = [r.check for b in backfill for r in b.results]
    assert sent == [f"old-{i}" for i in range(len(sent))]  # oldest first, in order
    assert 100 <= len(sent) <= 102  # one second's budget, not the whole backlog
    assert spool.backlog_count == 1000 - len(sent)
    spool.close()
