"""A collector `Sample` as the gRPC edge builds it, for tests of the pure
collector code (evaluator, alerting service, statistics)."""

from __future__ import annotations

from collector.model import Sample
from common.reasons import FailureReason


def sample(
    check: str,
    region: str,
    at: float,
    ok: bool = True,
    duration: float = 0.1,
    *,
    reason: FailureReason | None = None,
) -> Sample:
    """A result of `check` in `region` that ended at `at`: a success, or a
    failure for `reason` (a timeout when not given) when not `ok`, from
    agent `a-REGION`."""
    return Sample(
        check=check,
        region=region,
        agent_id=f"a-{region}",
        at=at,
        success=ok,
        reason=FailureReason.NONE if ok else reason or FailureReason.TIMEOUT,
        duration=duration,
    )
