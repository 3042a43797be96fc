"""The evaluator's tick looks only at what changed: this shows it decides
exactly what a walk over every check decides (`tick(full=True)`, the same
steps for all checks), over seeded random traffic with outages, slow spells,
silent agents, late results, agent moves, a reload and a restart. Plus the
deadline heap's edge cases. Time is data; nothing sleeps."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from typing import Any

import pytest

from collector.alerting.checkstate import CheckState
from collector.alerting.evaluator import CheckPolicy, Evaluator
from collector.alerting.flapping import FlapPolicy
from collector.alerting.model import Alert
from collector.alerting.regions import RegionState
from collector.alerting.schedule import Deadlines
from collector.alerting.sight import StaleIndex, _silent
from collector.alerting.slo import SloPolicy
from collector.alerting.slochecks import SLO_EVERY
from collector.model import Sample
from common.reasons import FailureReason
from tests.support.samples import sample

REGIONS = ("eu", "us", "ap", "sa")
T0 = 1_000_000.0


def policies(rng: random.Random, count: int) -> list[CheckPolicy]:
    """Checks of mixed intervals, regions, quorums and thresholds."""
    made = []
    for i in range(count):
        regions = tuple(rng.sample(REGIONS, rng.choice((1, 2, 3, 4))))
        made.append(
            CheckPolicy(
                name=f"c{i:02d}",
                check_type="http",
                interval=rng.choice((5.0, 10.0, 30.0)),
                regions=regions,
                quorum=rng.choice(("majority", "all", 1)),
                failure_threshold=rng.choice((1, 2, 3)),
                success_threshold=rng.choice((1, 2)),
                retry_after=2.0,
                slo=SloPolicy(p95_warning=0.5, p95_critical=1.0, error_ratio=0.1, window=120.0),
                flap=FlapPolicy(changes=2, window=120.0, settle=60.0),
            )
        )
    return made


@dataclass
class World:
    """What the fleet is doing: per check a health, per region a live agent."""

    rng: random.Random
    health: dict[str, str]
    """ok, down, slow or noisy (some failures)."""
    silent: set[str]
    """Regions whose agent sends nothing."""
    agent: dict[str, str]

    def step(self, names: list[str]) -> None:
        """Things change now and then."""
        rng = self.rng
        if rng.random() < 0.03:
            self.health[rng.choice(names)] = rng.choice(("ok", "ok", "down", "slow", "noisy"))
        if rng.random() < 0.01:
            self.silent ^= {rng.choice(REGIONS)}
        if rng.random() < 0.005:
            region = rng.choice(REGIONS)
            self.agent[region] = rng.choice(("a", "b")) + "-" + region

    def results(self, policy: CheckPolicy, now: float) -> list[Sample]:
        """The results of one check due at `now` (one per live region)."""
        if int(now - T0) % int(policy.interval):
            return []
        out = []
        for region in policy.regions:
            if region in self.silent:
                continue
            health = self.health.get(policy.name, "ok")
            failed = health == "down" or (health == "noisy" and self.rng.random() < 0.3)
            late = self.rng.random() < 0.01
            duration = self.rng.uniform(0.6, 2.0) if health == "slow" else 0.1
            out.append(
                Sample(
                    check=policy.name,
                    region=region,
                    agent_id=self.agent[region],
                    at=now - (3 * policy.interval + 5 if late else 0.5),
                    success=not failed,
                    reason=FailureReason("timeout" if failed else "none"),
                    request_id=f"{policy.name}-{region}-{now:g}",
                    duration=duration,
                )
            )
        return out


def seen(alerts: list[Alert]) -> list[str]:
    """Alerts as comparable text, in a fixed order (the order inside one
    tick is not part of the contract)."""
    return sorted(json.dumps(a.to_dict(), sort_keys=True, default=str) for a in alerts)


def run(seed: int, seconds: int, count: int) -> tuple[int, int]:
    """Feed the same world to an incremental and a walking evaluator and
    compare every tick; returns (ticks, alerts) compared."""
    rng = random.Random(seed)
    pols = policies(rng, count)
    world = World(random.Random(seed + 1), {}, set(), {r: f"a-{r}" for r in REGIONS})
    fast, walk = Evaluator(pols, now=T0), Evaluator(pols, now=T0)
    names = [p.name for p in pols]
    compared = 0
    for second in range(seconds):
        now = T0 + second
        world.step(names)
        batch = [s for p in pols for s in world.results(p, now)]
        assert seen(fast.observe_all(batch, now)) == seen(walk.observe_all(batch, now))
        connected = rng.choice((None, 1, 1, 1, 0))
        a, b = fast.tick(now, connected), walk.tick(now, connected, full=True)
        assert seen(a) == seen(b), f"second {second}"
        # the silent agents the index keeps are the ones a walk finds
        assert fast._index.silent() == _silent(fast._checks, fast._index.stale)
        compared += len(a)
        if second == seconds // 3:  # a reload: intervals (so stale_after) change, a check goes
            pols = [
                replace(p, interval=p.interval * 2) if i % 3 == 0 else p
                for i, p in enumerate(pols[1:])
            ]
            names = [p.name for p in pols]
            chunked = [a for part in fast.apply(fast.plan(pols), now, chunk=4) for a in part]
            assert seen(chunked) == seen(walk.set_policies(pols, now))
        if second == 2 * seconds // 3:  # a collector restart
            fast, walk = restart(fast, pols, now), restart(walk, pols, now)
    assert seen(fast.active_alerts()) == seen(walk.active_alerts())
    return seconds, compared


def restart(ev: Evaluator, pols: list[CheckPolicy], now: float) -> Evaluator:
    state = json.loads(json.dumps(ev.export_state()))
    again = Evaluator(pols, now=now)
    again.load_state(state, now)
    return again


@pytest.mark.parametrize("seed", [1, 2, 3], ids=["seed-1", "seed-2", "seed-3"])
def test_the_incremental_tick_decides_what_a_walk_over_every_check_decides(seed: int) -> None:
    _ticks, alerts = run(seed, seconds=1500, count=30)
    assert alerts > 20, "the traffic must make alerts for the comparison to mean anything"


# --- the deadline heap -------------------------------------------------


def test_deadlines_pop_in_order_once_and_skip_superseded_entries() -> None:
    d: Deadlines[str] = Deadlines()
    d.set("a", 10.0)
    d.set("b", 5.0)
    d.set("a", 3.0)  # superseded: 10.0 stays in the heap, dead
    d.earlier("b", 7.0)  # later than 5.0: ignored
    d.set("c", 20.0)
    d.discard("c")
    assert d.due(4.0) == ["a"]
    assert d.due(10.0) == ["b"]  # the dead 10.0 of "a" is skipped
    assert d.due(100.0) == []
    assert len(d) == 0


def region(last_seen: float | None, since: float = 0.0) -> RegionState:
    return RegionState(last_seen=last_seen, since=since)


def lookup_of(pols: dict[str, CheckPolicy], regions: dict[str, dict[str, RegionState]]) -> Any:
    states = {n: CheckState(regions=r) for n, r in regions.items()}
    return lambda n: (pols[n], states[n]) if n in pols else None


POLICY = CheckPolicy(name="c", check_type="http", interval=10.0, regions=("eu",), stale_grace=5.0)


@pytest.mark.parametrize(
    ("last_seen", "seen_later", "now", "stale"),
    [
        (100.0, None, 125.0, False),  # exactly stale_after (25 s): not yet
        (100.0, None, 125.5, True),
        (100.0, 120.0, 125.5, False),  # a newer result: re-pushed, not stale
        (100.0, 120.0, 145.5, True),  # ... until its own deadline
    ],
    ids=["at-the-limit", "past-it", "newer-result-re-pushes", "newer-result-expires"],
)
def test_stale_by_deadline(
    last_seen: float, seen_later: float | None, now: float, stale: bool
) -> None:
    state = region(last_seen)
    index = StaleIndex()
    index.watch("c", "eu", state, POLICY.stale_after)
    if seen_later is not None:
        state.last_seen = seen_later  # a result: no heap work on the hot path
    lookup = lookup_of({"c": POLICY}, {"c": {"eu": state}})
    changed = index.advance(now, lookup)
    assert (changed == {"c"}) is stale
    assert ("c" in index.stale) is stale


def test_a_region_coming_back_leaves_the_stale_map_and_gets_a_deadline() -> None:
    state = region(100.0)
    index = StaleIndex()
    index.watch("c", "eu", state, POLICY.stale_after)
    lookup = lookup_of({"c": POLICY}, {"c": {"eu": state}})
    assert index.advance(200.0, lookup) == {"c"}
    state.last_seen = 210.0
    assert index.watch("c", "eu", state, POLICY.stale_after) is True  # it was stale
    assert index.stale == {}
    assert index.advance(230.0, lookup) == set()
    assert index.advance(236.0, lookup) == {"c"}


@pytest.mark.parametrize(
    ("interval", "now", "stale"),
    [(10.0, 131.0, True), (60.0, 131.0, False), (60.0, 226.0, True)],
    ids=["shorter-stale-after", "longer-not-yet", "longer-expires"],
)
def test_a_reload_changing_stale_after_moves_the_deadlines(
    interval: float, now: float, stale: bool
) -> None:
    slow = replace(POLICY, interval=30.0)  # stale after 65 s
    ev = Evaluator([slow], now=0.0)
    ev.observe(sample("c", "eu", 100.0), 100.0)
    ev.tick(101.0)
    ev.set_policies([replace(slow, interval=interval)], 101.0)
    ev.tick(now)
    assert ev.region_states("c", now) == {"eu": "stale" if stale else "up"}
    assert ("c" in ev._index.stale) is stale


def test_after_a_restart_silence_counts_from_the_restart() -> None:
    ev = Evaluator([POLICY], now=0.0)
    ev.observe(sample("c", "eu", 100.0), 100.0)
    state = ev.export_state()
    again = Evaluator([POLICY], now=1000.0)
    again.load_state(state, 1000.0)
    again.tick(1020.0)
    assert again._index.stale == {}  # the old last_seen (100) does not count
    again.tick(1026.0)
    assert again._index.stale == {"c": {"eu"}}


def test_a_plain_success_on_an_up_region_is_not_a_change_to_save() -> None:
    ev = Evaluator([POLICY], now=0.0)
    ev.take_changes()
    ev.observe(sample("c", "eu", 10.0), 10.0)  # the first result: worth a save
    assert ev.take_changes() == ({"c"}, set())
    ev.observe(sample("c", "eu", 20.0), 20.0)
    assert ev.take_changes() == (set(), set())
    ev.observe(sample("c", "eu", 30.0, ok=False), 30.0)
    assert ev.take_changes() == ({"c"}, set())
    ev.set_policies([], 31.0)
    assert ev.take_changes()[1] == {"c"}


def test_changes_are_taken_a_few_at_a_time_and_none_is_lost() -> None:
    pols = [replace(POLICY, name=f"c{i}") for i in range(5)]
    ev = Evaluator(pols, now=0.0)
    ev.take_changes()
    for p in pols:
        ev.observe(sample(p.name, "eu", 10.0), 10.0)  # first results: worth a save
    first, _ = ev.take_changes(2)
    assert len(first) == 2 and ev.changes_left()
    second, _ = ev.take_changes(2)
    ev.keep_changes(second, ())  # that save failed: they wait again
    rest, _ = ev.take_changes()
    assert not ev.changes_left()
    assert first | rest == {p.name for p in pols} and not first & rest


def test_a_burst_of_deadlines_spreads_over_ticks_and_misses_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("collector.alerting.sight.ADVANCE_LIMIT", 4)
    pols = [replace(POLICY, name=f"c{i}") for i in range(5)]  # 5 deadlines at 25 s
    ev = Evaluator(pols, now=0.0)
    ev.tick(26.0)
    assert len(ev._index.stale) == 4  # the limit; the fifth waits a tick
    ev.tick(27.0)
    assert sorted(ev._index.stale) == [p.name for p in pols]


def test_a_tick_takes_its_deadlines_in_slices_with_a_yield_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fleet falling silent makes every region stale in one tick: the
    caller gets the event loop back after each slice of deadlines."""
    monkeypatch.setattr("collector.alerting.sight.ADVANCE_LIMIT", 5)
    monkeypatch.setattr("collector.alerting.sight.ADVANCE_SLICE", 2)
    pols = [replace(POLICY, name=f"c{i}") for i in range(7)]  # 7 deadlines at 25 s
    ev = Evaluator(pols, now=0.0)
    stale_at_each_part = [len(ev._index.stale) for _ in ev.tick_steps(26.0)]
    assert stale_at_each_part[:3] == [2, 4, 5]  # slices of 2, 2 and the limit's 1
    ev.tick(27.0)
    assert sorted(ev._index.stale) == sorted(p.name for p in pols)


def test_an_slo_alert_held_back_by_an_outage_starts_when_the_quiet_period_ends() -> None:
    """Slow results after an outage, then silence: nothing leaves the window
    when the quiet period ends, so only its own deadline evaluates it."""
    pol = replace(
        POLICY,
        interval=5.0,
        failure_threshold=1,
        success_threshold=1,
        slo=SloPolicy(p95_warning=0.5, p95_critical=5.0, window=120.0),
    )
    fast, walk = Evaluator([pol], now=0.0), Evaluator([pol], now=0.0)
    fired: dict[str, float] = {}
    for second in range(1, 240):
        now = float(second)
        if second <= 10:  # an outage, closed at 15 by a success probed at 12
            batch = [sample("c", "eu", now, ok=False)] if second % 5 == 0 else []
        elif second == 15:
            batch = [sample("c", "eu", now - 3)]
        elif 50 <= second <= 80:  # slow successes, then nothing
            slow = replace(sample("c", "eu", now), duration=1.0)
            batch = [slow] if second % 5 == 0 else []
        else:
            batch = []
        fast.observe_all(batch, now)
        walk.observe_all(batch, now)
        for name, ev in (("fast", fast), ("walk", walk)):
            full = name == "walk"
            for alert in ev.tick(now, 1, full=full):
                if alert.name == "LatencyHigh":
                    fired.setdefault(name, now)
    assert fired["walk"] < 15 + 120 + SLO_EVERY + 1  # when the quiet period ended
    assert fired["fast"] == fired["walk"]
