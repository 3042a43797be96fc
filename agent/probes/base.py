"""What every probe shares: the context it runs in and how it reports.

A probe is an async function `probe(check, ctx) -> pb.Result`. It only
probes: scheduling, timeouts, retries and streaming are shared code. It never
raises for a failing target; it maps library exceptions to a FailureReason
in one function of its own module and returns a failed result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from vantage.v1 import vantage_pb2 as pb

from common.config import CheckBase
from common.reasons import FailureReason


@dataclass
class ProbeContext:
    """Shared resources for probes, created once per agent (or smoke run)."""

    agent_id: str
    region: str
    session: aiohttp.ClientSession | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def http(self) -> aiohttp.ClientSession:
        """The shared session; fresh connection per request (force_close)."""
        if self.session is None:
            raise RuntimeError("ProbeContext.session is not open")
        return self.session


Probe = Callable[[Any, ProbeContext], Awaitable[pb.Result]]
"""A probe: takes its check model and the context, returns a result."""


def new_result(check: CheckBase, ctx: ProbeContext) -> pb.Result:
    """A result stamped with check, agent, region and start time."""
    return pb.Result(
        check=check.name,
        check_type=check.type,
        agent_id=ctx.agent_id,
        region=ctx.region,
        started_at=time.time(),
    )


def fail(result: pb.Result, reason: FailureReason, message: str) -> pb.Result:
    """Mark `result` failed with `reason`; the message is cut to 300 chars."""
    result.success = False
    result.reason = reason.to_proto()
    result.message = message[:300]
    return result


def assertion(result: pb.Result, name: str, ok: bool, message: str = "") -> bool:
    """Record a named assertion (e.g. `spf.lookup_limit`) and return `ok`."""
    result.assertions.add(name=name, ok=ok, message=message[:300])
    return ok


def finish_assertions(result: pb.Result) -> pb.Result:
    """Succeed unless an assertion failed; the first failure is the message."""
    failed = [a for a in result.assertions if not a.ok]
    if failed:
        first = failed[0]
        text = f"{first.name}: {first.message}" if first.message else first.name
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return fail(result, FailureReason.ASSERTION, text + more)
    result.success = True
    return result
