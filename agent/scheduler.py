"""Run each check on its interval, spread by a stable hash.

Every check gets a fixed phase inside its interval, taken from a hash of its
name, so 1,000 checks never fire together and every region probes a check at
about the same moment (which makes cross-region confirmation quick). After a
failure the check runs again after `retry_after` (fast confirmation).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from common.config import CheckBase


def phase(name: str, interval: float) -> float:
    """The stable offset of check `name` inside its interval, in seconds."""
    return (zlib.crc32(name.encode()) / 2**32) * interval


def next_due(now: float, interval: float, offset: float) -> float:
    """The first time after `now` that sits at `offset` within the interval."""
    due = now - ((now - offset) % interval) + interval
    return due if due > now else due + interval


def after_result(
    now: float, check: CheckBase, success: bool, was_retry: bool
) -> tuple[float, bool]:
    """When to run next, and whether that run is a fast re-check.

    A failure is re-checked once after `retry_after`, which confirms an
    outage within interval + retry_after; a failing re-check goes back to
    the regular schedule so a dead target costs no extra load.
    """
    regular = next_due(now, check.interval, phase(check.name, check.interval))
    if not success and not was_retry and check.retry_after < regular - now:
        return now + check.retry_after, True
    return regular, False


RunFn = Callable[[CheckBase, bool], Awaitable[bool]]
"""Runs one probe (check, is_retry) and returns whether it succeeded."""


@dataclass
class _Entry:
    check: CheckBase
    handle: asyncio.TimerHandle | None = None
    task: asyncio.Task[None] | None = None
    retry: bool = False


@dataclass
class Scheduler:
    """One wall-clock timer per check; replaces checks when config changes."""

    run: RunFn
    clock: Callable[[], float]
    entries: dict[str, _Entry] = field(default_factory=dict)

    def apply(self, checks: Iterable[CheckBase]) -> None:
        """Switch to `checks`: keep unchanged ones, restart changed ones."""
        wanted = {c.name: c for c in checks}
        for name in list(self.entries):
            if wanted.get(name) != self.entries[name].check:
                self._cancel(self.entries.pop(name))
        for name, check in wanted.items():
            if name not in self.entries:
                entry = _Entry(check)
                self.entries[name] = entry
                now = self.clock()
                self._arm(entry, next_due(now, check.interval, phase(name, check.interval)))

    def stop(self) -> None:
        """Cancel every timer and running probe."""
        for entry in self.entries.values():
            self._cancel(entry)
        self.entries.clear()

    def _arm(self, entry: _Entry, due: float) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, due - self.clock())
        entry.handle = loop.call_at(loop.time() + delay, self._fire, entry)

    def _fire(self, entry: _Entry) -> None:
        if self.entries.get(entry.check.name) is not entry:
            return
        entry.task = asyncio.get_running_loop().create_task(self._run(entry))

    async def _run(self, entry: _Entry) -> None:
        success = await self.run(entry.check, entry.retry)
        if self.entries.get(entry.check.name) is entry:
            due, entry.retry = after_result(self.clock(), entry.check, success, entry.retry)
            self._arm(entry, due)

    @staticmethod
    def _cancel(entry: _Entry) -> None:
        if entry.handle is not None:
            entry.handle.cancel()
        if entry.task is not None:
            entry.task.cancel()
