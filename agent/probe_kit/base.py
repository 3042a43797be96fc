"""What every probe shares: the context it runs in and how it reports.

A probe is an async function `probe(check, ctx) -> pb.Result`. It only
probes: scheduling, timeouts, retries and streaming are shared code. It never
raises for a failing target; it maps library exceptions to a FailureReason
in one function of its own module and returns a failed result.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from common.config import CheckBase
from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb

if TYPE_CHECKING:
    from agent.probe_kit.http_wire import Session

Nameserver = tuple[str, int]
"""The (ip, port) of a DNS server."""


@dataclass
class ProbeContext:
    """Shared resources for probes, created once per agent (or smoke run).

    HTTP sessions are made on first use, one per address family
    (`ip_version: 4|6|any`), and shared by every probe. A session holds
    settings, never a connection: each request opens a fresh one.
    """

    agent_id: str
    region: str
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    session_factory: Callable[[int, Nameserver | None], Session] | None = None
    sessions: dict[int, Session] = field(default_factory=dict)
    nameserver: Nameserver | None = None
    """Where probes look names up; None: the system resolver."""

    def http(self, family: int = socket.AF_UNSPEC) -> Session:
        """The shared session for an address family."""
        session = self.sessions.get(family)
        if session is None:
            if self.session_factory is None:
                raise RuntimeError("ProbeContext has no session_factory")
            session = self.sessions[family] = self.session_factory(family, self.nameserver)
        return session

    async def close(self) -> None:
        """Forget every session (they hold no connection to close)."""
        self.sessions.clear()


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


def set_phases(message: pb.Phases, phases: Mapping[str, float], add: bool = False) -> None:
    """Write phase timings by blackbox_exporter name (`connect`, `tls`, ...)
    into `message`, or add them to what it holds when `add`."""
    for name, seconds in phases.items():
        setattr(message, name, getattr(message, name) + seconds if add else seconds)


def fail(result: pb.Result, reason: FailureReason, message: str) -> pb.Result:
    """Mark `result` failed with `reason`; the message is cut to 300 chars
    (the runner redacts the whole result, see `common.redaction`)."""
    result.success = False
    result.reason = reason.to_proto()
    result.message = message[:300]
    return result


def assertion(result: pb.Result, name: str, ok: bool, message: str = "") -> bool:
    """Record a named assertion (e.g. `spf.lookup_limit`) and return `ok`."""
    result.assertions.add(name=name, ok=ok, message=message[:300])
    return ok


def finish_assertions(result: pb.Result) -> pb.Result:
    """Succeed unless an assertion failed; the message names every failed
    one (the assertions themselves carry each in full)."""
    failed = [a for a in result.assertions if not a.ok]
    if failed:
        text = "; ".join(f"{a.name}: {a.message}" if a.message else a.name for a in failed)
        return fail(result, FailureReason.ASSERTION, text)
    result.success = True
    return result
