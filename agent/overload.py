"""Telling an overloaded agent from a failing target.

A probe's timers run on the agent's event loop. When the loop is blocked or
saturated, a timer fires late, and a target that answered in a millisecond
looks like a timeout. So the agent watches its own loop lag, and:

- a run that would start more than `shed_after` past its slot, or late by
  a tenth of its timeout (the loop lags), is *shed*: not run, counted
  (`vantage_agent_runs_skipped_total`), and reported to the collector as
  skipped, never as a failure;
- a probe during which the loop lagged by a tenth of its timeout or more
  is shed the same way, whatever its outcome: a timeout may be ours, not
  the target's, and a duration holds our stall as much as the target's
  answer.

The decisions are pure functions; `LagMonitor` only measures.
"""

from __future__ import annotations

import asyncio
from collections import deque

LAG_SHARE = 0.1
"""Loop lag, as a share of the probe's timeout, that makes its timeout suspect."""
TICK = 0.05
"""Seconds between the monitor's wake-ups."""


def shed_reason(now: float, due: float, shed_after: float, timeout: float) -> str | None:
    """Why a run due at `due`, starting at `now`, is shed before it runs, or None.

    `late`: past `shed_after`. `lagging`: late by a tenth of its timeout or
    more, so the loop lags as much as would have its result shed anyway
    (`lagged`): not running it spares the CPU the agent is short of, and a
    loaded agent recovers instead of running probes only to shed them.
    """
    late = now - due
    if late > shed_after:
        return "late"
    if late >= LAG_SHARE * timeout:
        return "lagging"
    return None


def lagged(timeout: float, lag: float) -> bool:
    """Whether a probe with this timeout measured the agent's lag more than
    the target: its result is shed."""
    return lag >= LAG_SHARE * timeout


class LagMonitor:
    """Measures how late the loop runs a callback due every `TICK` seconds."""

    def __init__(self, tick: float = TICK) -> None:
        self.tick = tick
        self.samples: deque[tuple[float, float]] = deque(maxlen=4096)
        self._handle: asyncio.TimerHandle | None = None
        self._expected = 0.0

    def start(self) -> None:
        """Begin measuring on the running loop."""
        loop = asyncio.get_running_loop()
        self._expected = loop.time() + self.tick
        self._handle = loop.call_at(self._expected, self._wake)

    def stop(self) -> None:
        """Stop measuring."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _wake(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        lag = now - self._expected
        if lag > 0.001:
            self.samples.append((now, lag))
        self._expected = now + self.tick
        self._handle = loop.call_at(self._expected, self._wake)

    def max_since(self, since: float) -> float:
        """The largest lag at or after loop time `since`, counting the one
        going on now (the monitor's own wake-up is overdue)."""
        worst = max(0.0, asyncio.get_running_loop().time() - self._expected)
        for at, lag in reversed(self.samples):
            if at < since:
                break
            worst = max(worst, lag)
        return worst
