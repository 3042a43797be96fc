"""Late (backfilled) results: history, never the present.

Rows are (arrival time, probe time, region, ok) results fed to the evaluator
as production does (`observe_all` with the arrival clock); the alerts out
are compared. The `home` check runs every 10 s (late after 20 s) in three
regions with majority quorum. Agents lost the collector from t=1800 to
t=1900 and send what they probed meanwhile at t=1900.
"""

from __future__ import annotations

from typing import Any

import pytest

from collector.alerting.backfill import late_after
from collector.alerting.config import parse_alerting
from collector.alerting.dispatcher import Dispatcher
from collector.alerting.evaluator import Evaluator
from collector.alerting.model import Alert
from tests.collector.test_evaluator import REGIONS, policy, result

Row = tuple[float, float, str, bool]
"""(arrives, probed, region, ok)."""


def live(t: float, ok: bool = True) -> list[Row]:
    return [(t, t, r, ok) for r in REGIONS]


def late(arrives: float, probed: float, ok: bool, regions: tuple[str, ...] = REGIONS) -> list[Row]:
    return [(arrives, probed, r, ok) for r in regions]


def run(rows: list[Row]) -> list[Alert]:
    ev = Evaluator([policy(interval=10.0)], now=0.0)
    out: list[Alert] = []
    for arrives, probed, region, ok in rows:
        out += ev.observe(result(probed, region, ok), arrives)
    return out


def gap(fail_from: float, fail_to: float) -> list[Row]:
    """The backfill of 1800..1900: failing between the two probe times."""
    rows: list[Row] = []
    for t in range(1800, 1900, 10):
        rows += late(1900, t, not fail_from <= t < fail_to)
    return rows


CASES = [
    pytest.param(
        [*live(1790), *gap(1810, 1850), *live(1900)],
        [("CheckDownReportedLate", "firing", 1810.0)],
        id="outage-inside-the-gap-one-late-notice",
    ),
    pytest.param(
        [*live(1790), *gap(2000, 2000), *live(1900)],
        [],
        id="healthy-backfill-nothing",
    ),
    pytest.param(
        [*live(1790), *gap(1810, 1820), *live(1900)],
        [],
        id="one-failure-per-region-is-no-outage",
    ),
    pytest.param(
        # failing from 1850 and still failing live: the live state pages.
        # (1880 and 1890 arrive within 20 s of their probe: live, not late.)
        [*live(1790), *gap(1850, 9999), *live(1900, False), *live(1910, False)],
        [("CheckDown", "firing", 1880.0)],
        id="still-down-when-live-pages-live",
    ),
    pytest.param(
        # down live; an agent's older successes arrive late: the outage holds
        [*live(1790, False), *live(1791, False), *late(1800, 1750, True), *late(1801, 1760, True)],
        [("CheckDown", "firing", 1790.0)],
        id="late-successes-never-end-a-live-outage",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), CASES)
def test_backfill(rows: list[Row], expected: list[tuple[str, str, float]]) -> None:
    assert [(a.name, str(a.state), a.starts_at) for a in run(rows)] == expected


def test_late_notice_names_the_probe_time_span_and_is_not_a_page() -> None:
    [notice] = run([*live(1790), *gap(1810, 1850), *live(1900)])
    assert notice.notice and not notice.repeat
    assert notice.severity == "warning"
    assert notice.annotations["summary"] == (
        "home was down 00:30:10\u201300:30:50 (40s) in ap-south, eu-west, us-east, reported late"
    )
    incident: Any = notice.details["incident"]
    assert (incident["started_at"], incident["resolved_at"]) == (1810.0, 1850.0)


def test_a_late_outage_raises_no_slo_alert_as_well() -> None:
    # 4 of 10 late results failing in each region is a 40% error ratio in
    # the 5-minute window: the late notice says it, ErrorRatioHigh must not
    # repeat it while the window holds those failures.
    ev = Evaluator([policy(interval=10.0)], now=0.0)
    out: list[Alert] = []
    for arrives, probed, region, ok in [*live(1790), *gap(1810, 1850)]:
        out += ev.observe(result(probed, region, ok), arrives)
        out += ev.tick(arrives)
    for t in range(1900, 2200, 10):
        out += ev.observe_all([result(t, r, True) for r in REGIONS], t) + ev.tick(t)
    # (AgentDown and MonitoringBlind are about the gap itself: nothing came.)
    about_the_target = [a.name for a in out if a.name not in {"AgentDown", "MonitoringBlind"}]
    assert about_the_target == ["CheckDownReportedLate"]


def test_a_late_failure_does_not_open_a_live_outage() -> None:
    ev = Evaluator([policy(interval=10.0)], now=0.0)
    rows = [*live(1790), *late(1900, 1800, False), *late(1900, 1810, False)]
    for arrives, probed, region, ok in rows:
        assert ev.observe(result(probed, region, ok), arrives) == []
    assert ev.incidents() == []


@pytest.mark.parametrize(
    ("interval", "after"), [(1.0, 5.0), (10.0, 20.0), (60.0, 120.0)], ids=["floor", "10s", "1m"]
)
def test_late_after(interval: float, after: float) -> None:
    assert late_after(interval) == after


def test_the_dispatcher_sends_a_notice_once_and_forgets_it() -> None:
    [notice] = run([*live(1790), *gap(1810, 1850), *live(1900)])
    hook = {"name": "chat", "type": "webhook", "url": "http://127.0.0.1:9/"}
    d = Dispatcher(parse_alerting({"route": {"receivers": ["chat"]}, "receivers": [hook]}))
    d.push(notice, 1900.0)
    [sent] = d.flush(1910.0)  # after the warning group_wait
    assert [a.name for a in sent.alerts] == ["CheckDownReportedLate"]
    assert d.next_deadline(1910.0) is None  # no repeat, no resolve to send
    assert d.flush(1910.0 + 5 * 3600) == []
