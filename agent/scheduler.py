"""Run each check on its interval, spread by a stable hash.

Every check gets a fixed phase inside its interval, taken from a hash of its
name, so 1,000 checks never fire together and every region probes a check at
about the same moment (which makes cross-region confirmation quick). After a
failure the check runs again after `retry_after` (fast confirmation).
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import math
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field

import structlog

from agent.overload import shed_reason
from common.config import CheckBase

log = structlog.get_logger("agent.scheduler")


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
ShedFn = Callable[[CheckBase, str], None]
"""Told of a run shed because it came too late (check, why)."""


@dataclass(slots=True)
class _Entry:
    check: CheckBase
    due: float = 0.0
    task: asyncio.Task[None] | None = None
    retry: bool = False


_EARLY = 0.002
"""Seconds before its time that a check may start: the loop's clock and
timers have millisecond resolution, and waiting out the rest would spin."""
_STEP = 1.0
"""A run that ends more than this before its due time was not early: the
wall clock was stepped back, and the schedule follows the clock."""


@dataclass
class Scheduler:
    """Runs every check when due; replaces checks when config changes.

    Due times are wall-clock; each is turned into loop time when it is set,
    as a timer per check would be. One loop timer serves all checks, for the
    earliest in a heap: an entry there costs ~100 bytes, where a timer
    handle per check cost ~600.
    """

    run: RunFn
    clock: Callable[[], float]
    entries: dict[str, _Entry] = field(default_factory=dict)
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    """Every run starts from this context (the one the scheduler was made
    in, with the agent's bound log fields), not from the one the previous
    run ended in."""
    shed_after: float = math.inf
    """A run that would start this many seconds past its slot is shed."""
    on_shed: ShedFn | None = None
    _queue: list[tuple[float, int, _Entry]] = field(init=False, default_factory=list)
    """(loop time, order, entry), earliest first."""
    _order: Iterator[int] = field(init=False, default_factory=itertools.count)
    _timer: asyncio.TimerHandle | None = field(init=False, default=None)

    def apply(self, checks: Iterable[CheckBase]) -> None:
        """Switch to `checks`: keep unchanged ones, restart changed ones."""
        wanted = {c.name: c for c in checks}
        for name in list(self.entries):
            if wanted.get(name) != self.entries[name].check:
                self._cancel(self.entries.pop(name))
        now = self.clock()
        for name, check in wanted.items():
            if name not in self.entries:
                entry = self.entries[name] = _Entry(check)
                self._push(entry, next_due(now, check.interval, phase(name, check.interval)))
        self._set_timer()

    def stop(self) -> None:
        """Cancel the timer and every running probe."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for entry in self.entries.values():
            self._cancel(entry)
        self.entries.clear()
        self._queue.clear()

    def _push(self, entry: _Entry, due: float) -> None:
        # A removed or replaced check's entry stays until it is due, then
        # `_fire` skips it.
        entry.due = due
        when = asyncio.get_running_loop().time() + max(0.0, due - self.clock())
        heapq.heappush(self._queue, (when, next(self._order), entry))

    def _set_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._queue:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(self._queue[0][0], self._wake, context=self.context)

    def _wake(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time() + _EARLY
        while self._queue and self._queue[0][0] <= now:
            self._fire(heapq.heappop(self._queue)[2])
        self._set_timer()

    def _fire(self, entry: _Entry) -> None:
        if self.entries.get(entry.check.name) is not entry:
            return
        now, check = self.clock(), entry.check
        why = shed_reason(now, entry.due, self.shed_after, check.timeout)
        if self.on_shed is not None and why is not None:
            self.on_shed(check, why)
            entry.retry = False
            self._push(entry, next_due(now, check.interval, phase(check.name, check.interval)))
            return
        entry.task = asyncio.get_running_loop().create_task(self._run(entry))

    async def _run(self, entry: _Entry) -> None:
        try:
            success = await self.run(entry.check, entry.retry)
        except Exception:  # a bug past the probe must not end this check's schedule
            log.exception("scheduler.run_failed", check=entry.check.name)
            success = True
        finally:
            # A finished task holds its coroutine and result: ~700 bytes a
            # check for as long as the check waits for its next run.
            entry.task = None
        if self.entries.get(entry.check.name) is entry:
            now = self.clock()
            if now < entry.due < now + _STEP:  # began early and is done already:
                now = entry.due  # its own time must not come round again
            due, entry.retry = after_result(now, entry.check, success, entry.retry)
            self._push(entry, due)
            if self._queue[0][2] is entry:  # now the earliest: re-time the timer
                self._set_timer()

    @staticmethod
    def _cancel(entry: _Entry) -> None:
        if entry.task is not None:
            entry.task.cancel()
