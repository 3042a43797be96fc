"""What fires when the monitor cannot see: `AgentDown` per silent agent and
region, and `MonitoringBlind` when every region of a check is stale or no
agent is connected. Pure; mixed into the `Evaluator`, whose state it reads.

Nothing here walks every check on a tick. Stale regions are found by
deadline (`StaleIndex`: a region's deadline is its last result plus
`stale_after`; when it pops, the region is stale, or its newer result gives
it a new deadline), and the checks an agent probes are kept by (agent,
region) as results arrive (`Assignments`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping

from collector.alerting import texts
from collector.alerting.checkstate import CheckState
from collector.alerting.lifecycle import Lifecycle, key
from collector.alerting.model import Alert
from collector.alerting.policy import CheckPolicy
from collector.alerting.regions import RegionState
from collector.alerting.schedule import Deadlines

BLIND_START_GRACE = 20.0
"""Seconds after the collector starts before `MonitoringBlind` or a new
`AgentDown` may fire: agents starting, or reconnecting after a restart (with
backoff), are not a blind monitor nor a dead agent, even where checks run
every second."""

ADVANCE_LIMIT = 10_000
"""Deadlines taken per tick. At a start every region's first deadline falls
in the same second (150,000 at 50,000 checks x 3); taken at once they held
the event loop for half a second, so they spread over a few ticks, and a
region going stale then may be noticed a few seconds late."""

ADVANCE_SLICE = 1_000
"""Deadlines taken between two yields to the event loop within a tick
(`Evaluator.tick_steps`): when a flood stopped and the fleet fell silent at
50,000 checks, one tick's 10,000 held the loop 0.1-0.2 s on a busy machine."""

Lookup = Callable[[str], tuple[CheckPolicy, CheckState] | None]


Silent = dict[tuple[str, str], float | None]
"""(agent, region) of every stale region, with the agent's last result there."""


class StaleIndex:
    """The stale regions of every check, kept by deadline: `stale` holds
    only checks with a stale region. Also kept as they change: which agent
    each stale region last heard from (`silent`), since working that out
    from `stale` on a tick took 0.1-0.2 s of the event loop when a
    fleet-wide silence or a backlog made 150,000 regions stale."""

    __slots__ = ("_at", "_by_agent", "_whose", "stale", "version")

    def __init__(self) -> None:
        self.stale: dict[str, set[str]] = {}
        self._at: Deadlines[tuple[str, str]] = Deadlines()
        self._by_agent: dict[tuple[str, str], dict[str, float]] = {}
        """(agent, region) -> {check: its last result there (-inf: none)}."""
        self._whose: dict[tuple[str, str], tuple[str, str]] = {}
        """(check, region) -> its key in `_by_agent`, for each stale region."""
        self.version = 0
        """Bumped whenever `stale` changes."""

    def watch(self, check: str, region: str, state: RegionState, limit: float) -> bool:
        """(Re)start the clock of a region: from its last result, or from
        `since`. True when the region was stale (it is not any more)."""
        self._at.set((check, region), state.deadline(limit))
        names = self.stale.get(check)
        if names is None or region not in names:
            return False
        self._unstale(check, region, names)
        return True

    def forget(self, check: str, regions: Iterable[str]) -> None:
        """Stop watching these regions of `check`."""
        for region in regions:
            self._at.discard((check, region))
            names = self.stale.get(check)
            if names is not None and region in names:
                self._unstale(check, region, names)

    def clear(self) -> None:
        """Forget everything (before a rebuild)."""
        self.stale.clear()
        self._at.clear()
        self._by_agent.clear()
        self._whose.clear()
        self.version += 1

    def silent(self) -> Silent:
        """(agent, region) of every stale region, with the agent's latest
        result among them (None: it never sent one): `_silent(stale)`, kept."""
        return {
            who: None if (t := max(last.values())) == -math.inf else t
            for who, last in self._by_agent.items()
        }

    def _stale(self, check: str, region: str, state: RegionState) -> None:
        self.stale.setdefault(check, set()).add(region)
        who = (state.agent_id or "unknown", region)
        self._whose[(check, region)] = who
        last = state.last_seen
        self._by_agent.setdefault(who, {})[check] = -math.inf if last is None else last
        self.version += 1

    def _unstale(self, check: str, region: str, names: set[str]) -> None:
        names.discard(region)
        if not names:
            del self.stale[check]
        who = self._whose.pop((check, region))
        last = self._by_agent[who]
        del last[check]
        if not last:
            del self._by_agent[who]
        self.version += 1

    def advance(self, now: float, lookup: Lookup, most: int = ADVANCE_LIMIT) -> set[str]:
        """Take the deadlines that passed by `now`, at most `most` of them;
        the checks whose stale set changed."""
        changed: set[str] = set()
        later: list[tuple[tuple[str, str], float]] = []
        for check, region in self._at.due(now, most):
            found = lookup(check)
            state = found[1].regions.get(region) if found else None
            if found is None or state is None:
                continue  # removed since
            limit = found[0].stale_after
            if state.is_stale(now, limit):
                if region not in self.stale.get(check, ()):
                    self._stale(check, region, state)
                changed.add(check)
            else:  # a newer result: its own deadline (never `now` again)
                later.append(((check, region), max(state.deadline(limit), math.nextafter(now, 1))))
        for k, at in later:
            self._at.set(k, at)
        return changed

    def advance_steps(self, now: float, lookup: Lookup) -> Iterator[set[str]]:
        """`advance` by `ADVANCE_SLICE` deadlines, `ADVANCE_LIMIT` in all:
        each slice's changed checks, so a caller may yield in between."""
        for taken in range(0, ADVANCE_LIMIT, ADVANCE_SLICE):
            yield self.advance(now, lookup, min(ADVANCE_SLICE, ADVANCE_LIMIT - taken))
            if not self._at.overdue(now):
                return


class Assignments:
    """The checks each (agent, region) probes: those the agent last reported
    for there, and those no agent reported for yet (agent "")."""

    __slots__ = ("_by", "_sorted", "version")

    def __init__(self) -> None:
        self._by: dict[tuple[str, str], set[str]] = {}
        self._sorted: dict[tuple[str, str], list[str]] = {}
        self.version = 0
        """Bumped whenever an agent's checks change."""

    def move(self, check: str, region: str, old: str | None, new: str | None) -> None:
        """`check`'s region `region` is now probed by `new` (None: gone)."""
        self.version += 1
        for agent, add in ((old, False), (new, True)):
            if agent is None:
                continue
            k = (agent, region)
            names = self._by.setdefault(k, set())
            names.add(check) if add else names.discard(check)
            if not names:
                del self._by[k]
            if agent == "":  # part of every agent's list in the region
                for cached in [c for c in self._sorted if c[1] == region]:
                    del self._sorted[cached]
            self._sorted.pop(k, None)

    def clear(self) -> None:
        """Forget everything (before a rebuild)."""
        self._by.clear()
        self._sorted.clear()
        self.version += 1

    def of(self, agent: str, region: str) -> list[str]:
        """The checks `agent` probes in `region`, sorted (kept until it changes)."""
        k = (agent, region)
        names = self._sorted.get(k)
        if names is None:
            unclaimed = self._by.get(("", region), set())
            names = self._sorted[k] = sorted(self._by.get(k, set()) | unclaimed)
        return names


class Sight:
    """`AgentDown` and `MonitoringBlind` over the evaluator's check states."""

    _checks: dict[str, CheckState]
    _policies: dict[str, CheckPolicy]
    _started_at: float
    _connected_at: float
    _heard_in: set[str]
    """Regions with a live result since this start."""
    _fastest: float
    """The smallest `stale_after` of any check (inf: no checks)."""
    _index: StaleIndex
    assignments: Assignments
    alerts: Lifecycle
    _config_version: int
    """Bumped when the checks configured change."""
    _sight_memo: dict[str, object]
    """What the last tick built its sight alerts from (see `_agents`)."""
    _silent_keys: set[str]
    _blind_list: list[str]

    def _agents(
        self, now: float, stale: Mapping[str, set[str]], version: int | None = None
    ) -> list[Alert]:
        """`AgentDown` per silent (agent, region), naming the checks it was
        assigned, kept current while it fires. With the stale map's
        `version`, the silent set and its texts are rebuilt only when the
        stale map or the assignments changed (nothing else changes them)."""
        alerts: list[Alert] = []
        starting = now - self._started_at < BLIND_START_GRACE
        memo = None if version is None else (version, self.assignments.version, starting)
        if memo is None or memo != self._sight_memo.get("agents"):
            self._sight_memo["agents"] = memo
            silent = _silent(self._checks, stale) if version is None else self._index.silent()
            for (agent, where), seen in sorted(silent.items()):
                k = key("AgentDown", agent, where)
                if starting and k not in self.alerts:
                    continue  # an agent still starting; one restored as firing keeps firing
                checks = self._assigned(agent, where)
                alert = texts.agent_down(agent, where, checks=checks, last_seen=seen, now=now)
                alerts += self.alerts.fire(k, alert, refresh=True)
            self._silent_keys = {key("AgentDown", *who) for who in silent}
        for k in [k for k in self.alerts.keys("AgentDown|") if k not in self._silent_keys]:
            current = self.alerts.get(k)
            assert current is not None
            where = current.labels.get("region", "")
            if not self._restored(current) or self._heard_region(where):
                alerts += self.alerts.resolve(k, now, texts.agent_back(current))
        return alerts

    def _restored(self, alert: Alert) -> bool:
        """Fired before this collector started. After a restart every region
        looks fresh until it can go stale again, so such an alert ends only
        with results that came since: the restart itself is no news."""
        return alert.starts_at < self._started_at

    def _heard_region(self, region: str) -> bool:
        """A result in `region` (any region when "") since this start."""
        return region in self._heard_in if region else bool(self._heard_in)

    def _heard(self, check: str, region: str = "") -> bool:
        """A result of `check` (in `region`, else any) since this start; a
        check no longer configured holds nothing back."""
        state = self._checks.get(check)
        return state is None or any(
            r.last_seen is not None and r.last_seen >= self._started_at
            for name, r in state.regions.items()
            if name == region or not region
        )

    def _assigned(self, agent: str, region: str) -> list[str]:
        """The checks `agent` probes in `region`: every check of the region
        it last reported for, or that no agent reported for yet."""
        return self.assignments.of(agent, region)

    def _blind(
        self,
        now: float,
        stale: Mapping[str, set[str]],
        connected: int | None,
        version: int | None = None,
    ) -> list[Alert]:
        """`MonitoringBlind` while any check has every region stale, or no
        agent has been connected for as long as the fastest check needs to go
        stale (then every check is blind, slow ones too). With the stale
        map's `version`, the list and the text are rebuilt only on a change."""
        if connected:
            self._connected_at = now
        # as long as the fastest check's region takes to go stale: agents
        # reconnecting after a collector restart are not a blind monitor
        everyone = connected == 0 and self._policies and now - self._connected_at > self._fastest
        memo = None if version is None else (version, self._config_version, everyone)
        if memo is None or memo != self._sight_memo.get("blind"):
            self._sight_memo["blind"] = memo
            self._blind_list = (
                sorted(self._policies) if everyone else _all_stale(self._checks, stale)
            )
            self._sight_memo["text"] = None
        blind = self._blind_list
        k = key("MonitoringBlind")
        current = self.alerts.get(k)
        if blind and (current is not None or now - self._started_at >= BLIND_START_GRACE):
            text = None if memo is None else (memo, connected == 0)
            if current is not None and text is not None and text == self._sight_memo.get("text"):
                return []  # firing with this very text
            self._sight_memo["text"] = text
            alert = texts.monitoring_blind(blind, connected, now)
            return self.alerts.fire(k, alert, refresh=True)
        named = current.annotations.get("checks", "").split(", ") if current else []
        if current is None or (self._restored(current) and not all(map(self._heard, named))):
            return []
        return self.alerts.resolve(k, now, texts.sight_back())


def _silent(checks: Mapping[str, CheckState], stale: Mapping[str, set[str]]) -> Silent:
    """(agent, region) of every stale region, with the agent's last result:
    from scratch, the reference `StaleIndex.silent` keeps (`tick(full=True)`)."""
    silent: Silent = {}
    for check, names in stale.items():
        for name in names:
            region = checks[check].regions[name]
            who = (region.agent_id or "unknown", name)
            silent[who] = _latest(silent.get(who), region.last_seen)
    return silent


def _all_stale(checks: Mapping[str, CheckState], stale: Mapping[str, set[str]]) -> list[str]:
    """The checks whose every region is stale, sorted."""
    return sorted(c for c, names in stale.items() if names and len(names) == len(checks[c].regions))


def _latest(a: float | None, b: float | None) -> float | None:
    return max((t for t in (a, b) if t is not None), default=None)
