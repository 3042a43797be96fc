"""The stream's pure parts: which gRPC statuses stop the agent, the
reconnect backoff, and the backfill budget."""

from __future__ import annotations

import grpc
import pytest

from agent.stream import RateBudget, backoff, classify_rpc_error
from common.errors import FatalError, TransientError


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


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [(0, 0.0, 0.5), (1, 0.0, 1.0), (3, 0.5, 4.5), (6, 0.0, 30.0), (40, 0.9, 30.9)],
    ids=["first", "second", "fourth-jittered", "capped", "far-capped"],
)
def test_backoff_doubles_up_to_the_cap(attempt: int, jitter: float, delay: float) -> None:
    assert backoff(attempt, jitter) == pytest.approx(delay)


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
