"""The alerting service applies a reload in chunks and saves the evaluator by check row, only the checks
that changed, into a real SQLite file; a restart reads them back, and a
state saved as one blob by an older collector still loads."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collector.alerting.config import parse_alerting
from collector.alerting.evaluator import CheckPolicy, Evaluator
from collector.alerting.service import AlertingService
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


def service(path: Path, clock: Clock) -> AlertingService:
    """A configured, restored service on the store at `path`."""
    svc = AlertingService(Store.open(path), CollectorMetrics(Stats()), clock=clock)
    svc.configure(parse_config("checks: []\n", "checks.yaml"), parse_alerting(None), (CHECKS, []))
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
    assert sorted(svc.store.load_checks()) == [p.name for p in CHECKS]
    assert "checks" not in (svc.store.load_state("evaluator") or {})
    svc.store.close()
    again = service(tmp_path, clock)
    assert again.evaluator._checks["c1"].regions["us"].failures == 1
    again.store.close()


def test_a_save_writes_a_bounded_number_of_rows_and_shutdown_writes_the_rest(
    tmp_path: Path,
) -> None:
    many = [
        CheckPolicy(name=f"m{i}", check_type="http", interval=60.0, regions=("eu",))
        for i in range(2500)
    ]
    clock = Clock()
    svc = AlertingService(Store.open(tmp_path), CollectorMetrics(Stats()), clock=clock)
    svc.configure(parse_config("checks: []\n", "checks.yaml"), parse_alerting(None), (many, []))
    svc.restore()
    svc.observe([result(p.name, "eu", T0, True) for p in many], T0)  # a first result: a change
    clock.now += 11
    svc.save()
    assert 0 < len(svc.store.load_checks()) < len(many)
    svc.save(force=True)
    assert len(svc.store.load_checks()) == len(many)
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
    records (50,000 at 50,000 checks); they are written when they change."""
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
    assert "deploys" not in written  # nothing new to write (nor in the alerts: one failure)
    assert "deploys" not in (svc.store.load_state("evaluator") or {})
    svc.evaluator.deploys.record("web", "1.3", clock.now)
    clock.now += 30
    svc.save()
    assert written.count("deploys") == 1
    svc.store.close()
    again = service(tmp_path, clock)
    live = again.evaluator.deploys.live_at("web", clock.now)
    assert live is not None and live.version == "1.3"
    again.store.close()


def _spied(svc: AlertingService) -> list[str]:
    """The state blobs `svc` writes from now on, by key."""
    written: list[str] = []
    save_state = svc.store.save_state

    def spy(key: str, data: Mapping[str, Any]) -> None:
        written.append(key)
        save_state(key, data)

    svc.store.save_state = spy  # type: ignore[method-assign]
    return written


def test_the_alerts_state_is_written_when_it_changed_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    """With thousands of alerts firing, writing the evaluator's and the
    dispatcher's alerts every second held the event loop ~0.1 s a time
    though nothing in them had changed: they are written when they change."""
    clock = Clock()
    svc = service(tmp_path, clock)
    svc.save(force=True)
    written = _spied(svc)
    for step in (1, 2):  # two failures in both regions: CheckDown fires
        clock.now = T0 + 10 * step
        svc.observe([result("c2", r, clock.now, False) for r in ("eu", "us")], clock.now)
        svc.save()
    assert {"evaluator", "dispatcher"} <= set(written)
    firing = [a.name for a in svc.evaluator.active_alerts()]
    assert firing == ["CheckDown"]
    written.clear()
    clock.now += 10
    svc.observe([result("c2", r, clock.now, False) for r in ("eu", "us")], clock.now)
    svc.save()  # c2 still down: its row changes, the alerts do not
    assert "evaluator" not in written and "dispatcher" not in written
    svc.store.close()
    again = service(tmp_path, clock)
    assert [a.name for a in again.evaluator.active_alerts()] == firing
    again.save(force=True)  # a shutdown writes everything
    again.store.close()
