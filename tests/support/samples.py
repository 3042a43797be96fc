"""A collector `Sample` as the gRPC edge builds it, for tests of the pure
collector code (evaluator, alerting service, statistics)."""

from __future__ import annotations

from typing import Any

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
    agent_id: str | None = None,
    **fields: Any,
) -> Sample:
    """A result of `check` in `region` that ended at `at`: a success, or a
    failure for `reason` (a timeout when not given) when not `ok`, from
    `agent_id` (`a-REGION` when not given). `fields` sets any other `Sample`
    field (`message`, `request_id`, `release`, `cert_serial`, ...)."""
    return Sample(
        check=check,
        region=region,
        agent_id=agent_id or f"a-{region}",
        at=at,
        success=ok,
        reason=FailureReason.NONE if ok else reason or FailureReason.TIMEOUT,
        duration=duration,
        **fields,
    )
