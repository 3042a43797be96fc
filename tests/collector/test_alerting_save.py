"""The alerting service applies a reload in chunks and saves the evaluator by check row, only the checks
that changed, into a real SQLite file; a restart reads them back, and a
state saved as one blob by an older collector still loads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collector.alerting.config import AlertingConfig, parse_alerting
from collector.alerting.evaluator import CheckPolicy, Evaluator
from collector.alerting.rows import Rows
from collector.alerting.service import _SAVE_ALERT_ROWS, _SAVE_BACKLOG, AlertingService
from collector.metrics import CollectorMetrics
from collector.stats.series import Stats
from collector.store import Store
from common.config import parse_config
from tests.support.samples import sample as result

T0 = 1_000_000.0
CHECKS = [
    CheckPolicy(name=f"c{i}", check_type="http", interval=60.0, regions=("eu", "us"))
    for i in range(5)
]


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def service(
    path: Path,
    clock: Clock,
    checks: list[CheckPolicy] = CHECKS,
    alerting: AlertingConfig | None = None,
) -> AlertingService:
    """A configured, restored service on the store at `path`."""
    svc = AlertingService(Store.open(path), CollectorMetrics(Stats()), clock=clock)
    config = parse_config("checks: []\n", "checks.yaml")
    svc.configure(config, alerting or parse_alerting(None), (checks, []))
    svc.restore()
    return svc


def test_a_check_changed_after_the_last_full_save_survives_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    svc = service(tmp_path, clock)
    svc.observe([result(p.name, r, T0, True) for p in CHECKS for r in p.regions], T0)
    svc.save(force=True)  # every check, in rows
    clock.now += 30
    svc.observe([result("c3", "eu", clock.now, False)], clock.now)  # one failure: no alert yet
    svc.save()  # incremental: only c3
    assert svc.evaluator.take_changes() == (set(), set())
    svc.store.close()
    again = service(tmp_path, clock)
    eu = again.evaluator._checks["c3"].regions["eu"]
    assert (eu.failures, eu.first_failure is not None) == (1, True)
    assert again.evaluator._checks["c2"].regions["eu"].last_seen == T0
    again.store.close()


def test_a_state_saved_as_one_blob_loads_and_is_then_saved_by_rows(tmp_path: Path) -> None:
    old = Evaluator(CHECKS, now=T0)
    old.observe_all([result("c1", "us", T0, False)], T0)
    with Store.open(tmp_path) as store:
        store.save_state("evaluator", old.export_state())  # as the previous version did
    clock = Clock()
    svc = service(tmp_path, clock)
    assert svc.evaluator._checks["c1"].regions["us"].failures == 1
    clock.now += 2
    svc.save()
    assert sorted(svc.store.load_rows("evaluator.checks")) == [p.name for p in CHECKS]
    assert "checks" not in (svc.store.load_state("evaluator") or {})
    svc.store.close()
    again = service(tmp_path, clock)
    assert again.evaluator._checks["c1"].regions["us"].failures == 1
    again.store.close()


def test_alerts_saved_as_blobs_by_an_older_collector_load_and_are_then_saved_by_rows(
    tmp_path: Path,
) -> None:
    """Before version 4 the firing alerts were in the evaluator's blob and
    the dispatcher's groups in a blob of their own: they load, nothing is
    news again, and the next save replaces both blobs by rows."""
    old = Evaluator(CHECKS, now=T0)
    for at in (T0, T0 + 10):
        fired = old.observe_all([result("c1", r, at, False) for r in ("eu", "us")], at)
    (down,) = fired
    old.deploys.record("web", "1.2", T0, "baseline")
    group = {
        "route_id": "route",
        "key": "route:{}",
        "labels": {},
        "alerts": [down.to_dict()],
        "ready": {down.fingerprint: T0 + 10},
        "notified": [down.fingerprint],
        "last_flush": T0 + 10,
        "last_sent": T0 + 10,
    }
    with Store.open(tmp_path) as store:
        store.save_state("evaluator", old.export_state())
        store.save_state("dispatcher", {"version": 1, "groups": [group]})
    clock = Clock()
    clock.now = T0 + 20
    svc = service(tmp_path, clock)
    assert [a.name for a in svc.evaluator.active_alerts()] == ["CheckDown"]
    assert svc._dispatcher().flush(clock.now) == []  # notified before: not news
    svc.save()
    assert svc.store.load_state("dispatcher") is None
    assert svc.store.load_state("deploys") is None
    assert "lifecycle" not in (svc.store.load_state("evaluator") or {})
    assert list(svc.store.load_rows("lifecycle.active")) == ["CheckDown|c1"]
    svc.store.close()
    again = service(tmp_path, clock)
    assert [a.name for a in again.evaluator.active_alerts()] == ["CheckDown"]
    live = again.evaluator.deploys.live_at("web", clock.now)
    assert live is not None and live.version == "1.2"
    (saved,) = again._dispatcher().export_state()["alerts"].values()
    assert saved["notified"] and saved["alert"]["labels"]["check"] == "c1"
    again.store.close()


def test_a_save_writes_a_bounded_number_of_rows_and_shutdown_writes_the_rest(
    tmp_path: Path,
) -> None:
    many = [
        CheckPolicy(name=f"m{i}", check_type="http", interval=60.0, regions=("eu",))
        for i in range(2500)
    ]
    clock = Clock()
    svc = service(tmp_path, clock, many)
    svc.observe([result(p.name, "eu", T0, True) for p in many], T0)  # a first result: a change
    clock.now += 11
    svc.save()
    assert 0 < len(svc.store.load_rows("evaluator.checks")) < len(many)
    svc.save(force=True)
    assert len(svc.store.load_rows("evaluator.checks")) == len(many)
    svc.store.close()


async def test_a_reload_lets_the_event_loop_run_between_chunks(tmp_path: Path) -> None:
    many = [
        CheckPolicy(name=f"m{i}", check_type="http", interval=60.0, regions=("eu",))
        for i in range(2500)
    ]
    svc = service(tmp_path, Clock())
    turns = 0

    async def count() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count())
    await svc.reconfigure(
        parse_config("checks: []\n", "checks.yaml"), parse_alerting(None), (many, [])
    )
    counter.cancel()
    assert turns >= 3  # 2,500 new checks and 5 removed, 1,000 a turn
    assert sorted(svc.evaluator._policies) == sorted(p.name for p in many)
    assert sorted(svc.evaluator._checks) == sorted(p.name for p in many)
    svc.store.close()


def test_deploy_records_are_saved_apart_only_when_they_change_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    """One baseline per service made every save serialize every service's
    records (50,000 at 50,000 checks, 0.2-0.5 s a save when new releases
    arrived in a burst): each service's records are a row, written when
    they change."""
    clock = Clock()
    svc = service(tmp_path, clock)
    first = result("c1", "eu", T0, True)
    first.release = "web-1.2"
    svc.observe([first], T0)
    svc.save(force=True)
    written = _spied(svc)
    clock.now += 30
    svc.observe([result("c3", "eu", clock.now, False)], clock.now)
    svc.save()
    assert "deploys.services" not in written  # nothing new (nor in the alerts: one failure)
    assert "deploys" not in (svc.store.load_state("evaluator") or {})
    before = svc.store.load_rows("deploys.services")
    assert before  # the baseline of the first release seen
    svc.evaluator.deploys.record("web", "1.3", clock.now)
    clock.now += 30
    svc.save()
    assert written.count("deploys.services") == 1
    after = svc.store.load_rows("deploys.services")
    assert {k: v for k, v in after.items() if k != "web"} == before  # only "web" was written
    assert after["web"]["records"][-1][:2] == ["1.3", clock.now - 30]
    svc.store.close()
    again = service(tmp_path, clock)
    live = again.evaluator.deploys.live_at("web", clock.now)
    assert live is not None and live.version == "1.3"
    again.store.close()


def _spied(svc: AlertingService) -> list[str]:
    """What `svc` writes from now on: state blobs by key, and the kinds of
    rows it writes (those with at least one row)."""
    written: list[str] = []
    save_state, save_rows = svc.store.save_state, svc.store.save_rows

    def spy(key: str, data: Mapping[str, Any]) -> None:
        written.append(key)
        save_state(key, data)

    def spy_rows(parts: Mapping[str, Rows], blobs: Any = None) -> bool:
        written.extend(kind for kind, part in parts.items() if part.rows or part.removed)
        written.extend(blobs or ())
        return save_rows(parts, blobs)

    svc.store.save_state = spy  # type: ignore[method-assign]
    svc.store.save_rows = spy_rows  # type: ignore[method-assign]
    return written


def test_the_alerts_state_is_written_when_it_changed_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    """With thousands of alerts firing and resolving in a backlog, writing
    the evaluator's and the dispatcher's alerts whole held the event loop
    ~0.1 s on every save: they are rows, written when they change."""
    clock = Clock()
    svc = service(tmp_path, clock)
    svc.save(force=True)
    written = _spied(svc)
    for step in (1, 2):  # two failures in both regions: CheckDown fires
        clock.now = T0 + 10 * step
        svc.observe([result("c2", r, clock.now, False) for r in ("eu", "us")], clock.now)
        svc.save()
    assert {"lifecycle.active", "dispatcher.groups", "dispatcher.alerts"} <= set(written)
    firing = [a.name for a in svc.evaluator.active_alerts()]
    assert firing == ["CheckDown"]
    written.clear()
    clock.now += 10
    svc.observe([result("c2", r, clock.now, False) for r in ("eu", "us")], clock.now)
    svc.save()  # c2 still down: its row changes, the alerts do not
    assert written == ["evaluator.checks", "heartbeats"]
    svc.store.close()
    again = service(tmp_path, clock)
    assert [a.name for a in again.evaluator.active_alerts()] == firing
    again.save(force=True)  # a shutdown writes what changed
    again.store.close()


def test_alert_rows_saved_as_they_change_restore_the_whole_alerts_state(tmp_path: Path) -> None:
    """Seeded: 40 checks fail and recover at random, the dispatcher sends
    (one group holds every alert, then a reload groups by check), and the
    state saves incrementally each step; a restart at any point reads back
    exactly the live alerts state, so nothing pages twice and no resolve
    is forgotten, and the rows are exactly that state (none left over)."""
    import random  # noqa: PLC0415

    rng = random.Random(12)
    many = [
        CheckPolicy(name=f"m{i}", check_type="http", interval=10.0, regions=("eu", "us"))
        for i in range(40)
    ]
    hook = [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/"}]
    by_check = parse_alerting(
        {"receivers": hook, "route": {"group_by": ["check"], "receivers": ["hook"]}}, {}
    )
    alerting, clock = parse_alerting(None), Clock()

    def started() -> AlertingService:
        return service(tmp_path, clock, many, alerting)

    svc = started()
    written = _spied(svc)
    for step in range(1, 61):
        clock.now = T0 + 10 * step
        down = {p.name for p in many if rng.random() < 0.3}
        results = [
            result(p.name, r, clock.now, p.name not in down) for p in many for r in ("eu", "us")
        ]
        svc.observe(results, clock.now)
        svc._push(svc.evaluator.tick(clock.now), clock.now)  # the service's tick, in one go
        svc._refresh(clock.now)
        if step == 25:  # a reload regroups every alert: the old group's rows go
            alerting = by_check
            svc._configure_rest(alerting, [], [], clock.now)
        if step % 3 == 0:
            svc._dispatcher().flush(clock.now)  # what the send loop does when groups are due
        svc.save(force=step % 7 == 0)
        if step % 10 == 0:
            live_alerts, live_groups = (
                svc.evaluator.alerts.export(),
                svc._dispatcher().export_state(),
            )
            assert live_alerts["active"] and live_groups["alerts"]  # the run has alerts to carry
            for owner, live in (("lifecycle", live_alerts), ("dispatcher", live_groups)):
                for part, rows in live.items():
                    assert svc.store.load_rows(f"{owner}.{part}") == json.loads(json.dumps(rows))
            svc.store.close()
            svc = started()
            assert svc.evaluator.alerts.export() == live_alerts
            assert svc._dispatcher().export_state() == live_groups
            written = _spied(svc)
    assert len(live_groups["groups"]) > 1  # grouped by check by then
    assert "dispatcher" not in written and "evaluator" not in written  # after the first save
    svc.store.close()


def test_alerts_rows_without_their_group_are_routed_again(tmp_path: Path) -> None:
    """An alert's row whose group row is missing (written by hand, or a
    damaged file) is not lost: it is routed again, and its row replaced."""
    clock = Clock()
    svc = service(tmp_path, clock)
    for step in (1, 2):
        clock.now = T0 + 10 * step
        svc.observe([result("c2", r, clock.now, False) for r in ("eu", "us")], clock.now)
    svc.save(force=True)
    (key,) = svc.store.load_rows("dispatcher.groups")
    svc.store.save_rows({"dispatcher.groups": Rows({}, [key])})
    svc.store.close()
    again = service(tmp_path, clock)
    (entry,) = again._dispatcher().export_state()["alerts"].values()
    assert entry["alert"]["labels"]["check"] == "c2"
    again.save(force=True)
    assert (
        again.store.load_rows("dispatcher.groups") == again._dispatcher().export_state()["groups"]
    )
    again.store.close()


def test_a_burst_of_alerts_is_saved_a_bounded_number_of_rows_at_a_time(tmp_path: Path) -> None:
    """1,200 checks go down together: one save writing every alert's rows
    held the event loop ~0.4 s at 5,000; each save writes at most
    `_SAVE_ALERT_ROWS` rows of an alert part, the next save comes after
    `_SAVE_BACKLOG` seconds (not the usual one), and a shutdown writes what
    is left."""
    many = [
        CheckPolicy(name=f"m{i}", check_type="http", interval=60.0, regions=("eu",))
        for i in range(1200)
    ]
    clock = Clock()
    svc = service(tmp_path, clock, many)
    svc.save(force=True)
    for step in (1, 2):
        clock.now = T0 + 10 * step
        svc.observe([result(p.name, "eu", clock.now, False) for p in many], clock.now)
    assert len(svc.evaluator.active_alerts()) == 1200
    saved = []
    for _ in range(2):
        clock.now += 2
        svc.save()
        saved.append(len(svc.store.load_rows("lifecycle.active")))
        assert len(svc.store.load_rows("dispatcher.alerts")) == saved[-1]
    assert saved == [_SAVE_ALERT_ROWS, 2 * _SAVE_ALERT_ROWS]
    clock.now += _SAVE_BACKLOG / 2
    svc.save()  # too soon even for a backlog
    assert len(svc.store.load_rows("lifecycle.active")) == 2 * _SAVE_ALERT_ROWS
    clock.now += _SAVE_BACKLOG / 2
    svc.save()
    assert len(svc.store.load_rows("lifecycle.active")) == 3 * _SAVE_ALERT_ROWS
    svc.save(force=True)
    assert len(svc.store.load_rows("lifecycle.active")) == 1200
    assert svc.store.load_rows("dispatcher.alerts") == json.loads(
        json.dumps(svc._dispatcher().export_state()["alerts"])
    )
    svc.store.close()
