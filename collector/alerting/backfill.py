"""Late results: counted in history, never in the current state. Pure.

An agent that could not reach the collector keeps its results and sends
them later (a backfill). A result is *late* when its probe time is older
than `late_after(interval)` at arrival. A late result counts towards history
(the SLO window by its own probe time; the statistics count it on their
side), but it never moves the live region state: what a region looked like
minutes ago must not open or close an outage now.

What happened meanwhile is replayed apart, per check, by probe time: each
region's late results go through their own `RegionState` (same thresholds),
and the same quorum rule applies. An outage that began and ended inside the
late stream becomes one `LateOutage`, with its probe-time start and end:
the evaluator sends one notice ("down 00:30:10-00:30:50, reported late"),
not a page. One that is still going when live results arrive is the live
state's business: it pages as any outage does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collector.alerting.regions import Failure, Quorum, RegionState, outage_holds

LATE_MIN = 5.0
"""Seconds: a result is never late before this, whatever the interval (a
batch flush or a busy loop delays results by about a second)."""


def late_after(interval: float) -> float:
    """How old (probe time vs arrival) a result must be to count as late:
    two intervals, by then a newer live result of the region is due."""
    return max(2 * interval, LATE_MIN)


@dataclass(frozen=True)
class LateOutage:
    """An outage found only in late results."""

    started_at: float
    """Probe time of its first failing result."""
    ended_at: float
    """Probe time of the first success of the recovery that ended it."""
    regions: dict[str, Failure]


@dataclass
class Backfill:
    """The late results of one check, replayed by probe time."""

    regions: dict[str, RegionState] = field(default_factory=dict)
    failing: dict[str, Failure] | None = None
    """The regions of the late outage being replayed; None: none open."""
    up_since: dict[str, float] = field(default_factory=dict)
    """Per region, the probe time of the first success of its streak."""

    def record(
        self,
        region: str,
        failure: Failure | None,
        at: float,
        thresholds: tuple[int, int],
        quorum: Quorum,
    ) -> LateOutage | None:
        """Replay one late result (`failure` None: a success); the outage it
        closes, if it closes one."""
        state = self.regions.setdefault(region, RegionState(since=at))
        if failure is not None:
            failure = state.first_failure or failure
        elif state.successes == 0:
            self.up_since[region] = at
        if state.record(failure, at, failure.agent_id if failure else "", thresholds) is None:
            return None
        holds = outage_holds(self.regions, set(), quorum, self.failing is not None)
        down = {r: s.first_failure for r, s in self.regions.items() if s.down and s.first_failure}
        if holds and self.failing is None:
            self.failing = down
        elif holds and self.failing is not None:
            self.failing |= down
        elif not holds and self.failing is not None:
            regions, self.failing = self.failing, None
            start = min(f.at for f in regions.values())
            return LateOutage(start, self.up_since.get(region, at), regions)
        return None
