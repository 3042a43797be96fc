"""`vantage smoke`: run checks once, concurrently but bounded, with a
progress line on a terminal, and report every finding as a table, JUnit XML
or JSON."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.http_client import new_session
from agent.runner import run_probe
from cli.findings import findings, reason_of
from cli.overrides import Overrides, aim, session_factory
from common.config import CheckBase
from vantage.v1 import vantage_pb2 as pb

CONCURRENCY = 16
"""Checks in flight at once by default: 100 checks take seconds, and a
target behind them is not flooded."""


_NONE = Overrides()


class Progress:
    """`12/100 done, 1 failed` on one rewritten line, only on a terminal."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream
        self.shown = stream.isatty()

    def count(self, result: pb.Result) -> None:
        """One more check finished."""
        self.done += 1
        self.failed += not result.success
        if self.shown:
            line = f"\r{self.done}/{self.total} checks done, {self.failed} failed"
            self.stream.write(line + "\033[K")
            self.stream.flush()

    def clear(self) -> None:
        """Erase the line before the report is printed."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


async def run_checks(
    checks: Sequence[CheckBase],
    fail_fast: bool,
    agent_id: str,
    concurrency: int = CONCURRENCY,
    overrides: Overrides = _NONE,
) -> list[pb.Result]:
    """Run each check once, at most `concurrency` at a time; results in
    file order. With `fail_fast` they run one by one, and none starts after
    one failed."""
    factory = session_factory(overrides) if overrides.connect_to else new_session
    ctx = ProbeContext(
        agent_id, "smoke", env=os.environ, session_factory=factory, nameserver=overrides.dns_server
    )
    gate = asyncio.Semaphore(1 if fail_fast else max(1, concurrency))
    stop = asyncio.Event()
    progress = Progress(len(checks))

    async def one(check: CheckBase) -> pb.Result | None:
        async with gate:
            if stop.is_set():
                return None
            result = await run_probe(aim(check, overrides), ctx)
        progress.count(result)
        if fail_fast and not result.success:
            stop.set()
        return result

    try:
        done = await asyncio.gather(*(one(check) for check in checks))
    finally:
        progress.clear()
        await ctx.close()
    return [result for result in done if result is not None]


def summary(results: Sequence[pb.Result], checks: Sequence[CheckBase]) -> dict[str, int]:
    """Counts of passed, failed and skipped (not run) checks."""
    failed = sum(not r.success for r in results)
    return {
        "passed": len(results) - failed,
        "failed": failed,
        "skipped": len(checks) - len(results),
    }


def to_json(results: Sequence[pb.Result], checks: Sequence[CheckBase]) -> str:
    """The machine-readable report: a summary and every check's findings."""
    ran = {r.check: r for r in results}
    report = [_check_json(check, ran.get(check.name)) for check in checks]
    return json.dumps({"summary": summary(results, checks), "checks": report}, indent=2)


def _check_json(check: CheckBase, result: pb.Result | None) -> dict[str, object]:
    if result is None:
        return {"name": check.name, "type": check.type, "status": "skipped"}
    return {
        "name": check.name,
        "type": check.type,
        "status": "pass" if result.success else "fail",
        "reason": reason_of(result) or None,
        "message": result.message or None,
        "duration_seconds": round(result.duration_seconds, 6),
        "findings": findings(result),
        "steps": [
            {"name": s.name, "status": "pass" if s.success else "fail", "message": s.message}
            for s in result.flow.steps
        ],
    }
