"""Run one probe: enforce the timeout, log one canonical line, spool it.

A result measured while the agent's own loop lagged is shed, not reported
(see agent.overload)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from agent import overload
from agent.metrics import AgentMetrics
from agent.probe_kit.base import fail, new_result
from agent.probes import ProbeContext, probe_for
from common.config import CheckBase
from common.reasons import FailureReason
from common.redaction import scrub_result
from vantage.v1 import vantage_pb2 as pb

log = structlog.get_logger("agent.probe")

_GRACE = 0.5
"""Extra seconds past the check timeout before the runner cancels a probe
that did not enforce its own timeout."""


async def run_probe(check: CheckBase, ctx: ProbeContext, retry: bool = False) -> pb.Result:
    """Run `check` once with the probe its type maps to. Never raises."""
    probe = probe_for(check.type)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(check.timeout + _GRACE):
            result = await probe(check, ctx)
    except TimeoutError:
        result = fail(
            new_result(check, ctx), FailureReason.TIMEOUT, f"timed out after {check.timeout:g}s"
        )
        result.duration_seconds = time.perf_counter() - started
    except Exception as exc:  # a probe bug must not kill the scheduler
        log.exception("probe.crashed", check=check.name)
        result = fail(
            new_result(check, ctx), FailureReason.INTERNAL, f"{type(exc).__name__}: {exc}"
        )
    result.retry = retry
    # The one place a result is redacted: every string in it, whatever the
    # probe type, before it is logged, spooled, streamed or printed.
    scrub_result(result)
    return result


def log_result(result: pb.Result) -> None:
    """The one canonical log line per probe."""
    log.info(
        "probe.completed",
        check=result.check,
        type=result.check_type,
        success=result.success,
        reason=FailureReason.from_proto(result.reason).value,
        message=result.message or None,
        duration_ms=round(result.duration_seconds * 1000, 2),
        status=result.http.status_code if result.HasField("http") else None,
        request_id=result.request_id or None,
        release=result.release or None,
        retry=result.retry or None,
    )


ShedFn = Callable[[CheckBase, str], None]
"""Told of a run shed (check, why)."""


class ProbeRunner:
    """Glue between the scheduler and the spool, with metrics."""

    def __init__(
        self,
        ctx: ProbeContext,
        sink: Callable[[pb.Result], None],
        metrics: AgentMetrics,
        lag: overload.LagMonitor | None = None,
        on_shed: ShedFn | None = None,
    ) -> None:
        self.ctx = ctx
        self.sink = sink
        self.metrics = metrics
        self.lag = lag
        self.on_shed = on_shed

    async def __call__(self, check: CheckBase, retry: bool) -> bool:
        started = asyncio.get_running_loop().time()
        result = await run_probe(check, self.ctx, retry)
        lag = self.lag.max_since(started) if self.lag is not None else 0.0
        if self.on_shed is not None and overload.lagged(check.timeout, lag):
            self.on_shed(check, "loop_lag")
            return True  # not the target's doing: back to the regular schedule
        log_result(result)
        self.metrics.probes.labels(check.type, "success" if result.success else "failure").inc()
        self.sink(result)
        return result.success
