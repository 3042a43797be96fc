"""Flap damping: a target going up and down sends one `CheckFlapping`
notice, stays quiet, and sends one notice of its final state once settled.

Rows are series of results and ticks with their times (time is data). One
cycle fails twice and succeeds twice, so with the default thresholds (2 and
2) it opens an outage at t+1 (its alert starts at t, the first failure) and
closes it at t+3.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.alerting.evaluator import Evaluator
from collector.alerting.flapping import FlapPolicy, FlapState
from collector.alerting.policies import check_policy
from collector.alerting.policy import CheckPolicy
from common.config import parse_config
from tests.collector.test_evaluator import Step, Tick, every, fail, ok, policy, run, transitions


def cycle(t: float) -> list[Step]:
    """Down at t+1, up again at t+3."""
    return [*fail(t), *fail(t + 1), *ok(t + 2), *ok(t + 3)]


def flappy(**overrides: Any) -> CheckPolicy:
    return policy(interval=10.0, **overrides)


STEADY_UP = [*every(40, 400, 10, ok), Tick(332), Tick(333)]

CASES = [
    pytest.param(
        [*cycle(0), *cycle(10), *cycle(20), *cycle(30), *STEADY_UP],
        [
            (0, "CheckDown", "firing"),
            (3, "CheckDown", "resolved"),
            (11, "CheckFlapping", "firing"),
            (333, "CheckFlapping", "resolved"),
        ],
        id="flapping-pages-once-then-one-notice-when-settled-up",
    ),
    pytest.param(
        [
            *cycle(0),
            *cycle(10),
            *fail(20),
            *fail(21),
            *every(30, 400, 10, fail),
            Tick(320),
            Tick(321),
        ],
        [
            (0, "CheckDown", "firing"),
            (3, "CheckDown", "resolved"),
            (11, "CheckFlapping", "firing"),
            (321, "CheckFlapping", "resolved"),
            (20, "CheckDown", "firing"),  # the final state: down since its first failure
        ],
        id="settled-down-fires-the-outage",
    ),
    pytest.param(
        [*cycle(0), *fail(5), *fail(6), *every(10, 400, 10, fail), *cycle(400), *STEADY_UP[-2:]],
        [(0, "CheckDown", "firing"), (3, "CheckDown", "resolved"), (6, "CheckFlapping", "firing")],
        id="still-flapping-stays-quiet",
    ),
    pytest.param(
        [*cycle(0), *every(10, 700, 10, ok), *cycle(700)],
        [
            (0, "CheckDown", "firing"),
            (3, "CheckDown", "resolved"),
            (700, "CheckDown", "firing"),
            (703, "CheckDown", "resolved"),
        ],
        id="outages-further-apart-than-the-window-page",
    ),
]


@pytest.mark.parametrize(("series", "expected"), CASES)
def test_flap_damping(series: list[Step], expected: list[tuple[float, str, str]]) -> None:
    assert transitions(run(series, flappy())) == expected


def test_damping_off_pages_every_change() -> None:
    alerts = run([*cycle(0), *cycle(10), *cycle(20)], flappy(flap=FlapPolicy(changes=0)))
    assert [a.name for a in alerts] == ["CheckDown"] * 6


def test_flapping_notice_says_so_at_the_outage_severity() -> None:
    alerts = run([*cycle(0), *cycle(10)], flappy())
    [notice] = [a for a in alerts if a.name == "CheckFlapping"]
    assert notice.severity == "critical"
    assert notice.labels["check"] == "home"
    assert notice.annotations["summary"].startswith("home is flapping: 3 up/down changes in 10m")


def test_a_restart_keeps_the_damping() -> None:
    ev = Evaluator([flappy()], now=0.0)
    run([*cycle(0), *cycle(10), *fail(20), *fail(21)], evaluator=ev)
    assert ev.flapping() == {"home"}
    fresh = Evaluator([flappy()], now=30.0)
    fresh.load_state(json.loads(json.dumps(ev.export_state())), 30.0)
    assert fresh.flapping() == {"home"}
    assert run([*ok(30), *ok(31), *fail(32), *fail(33)], evaluator=fresh) == []  # quiet
    names = [
        (a.name, str(a.state)) for a in run([*every(40, 400, 10, fail), Tick(340)], evaluator=fresh)
    ]
    assert names == [("CheckFlapping", "resolved"), ("CheckDown", "firing")]


@pytest.mark.parametrize(
    ("changes", "flapping_at"),
    [([0, 100, 200], 200), ([0, 100, 700, 800], None), ([0, 599, 1198], None), ([0, 1, 2, 3], 2)],
    ids=["third-change-in-window", "spread-out", "just-outside-the-window", "first-crossing-only"],
)
def test_flap_state(changes: list[float], flapping_at: float | None) -> None:
    state, started = FlapState(), []
    for t in changes:
        if state.change(t, FlapPolicy()):
            started.append(t)
    assert started == ([] if flapping_at is None else [flapping_at])


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("", FlapPolicy(2, 600.0, 300.0)),
        ("    flapping: {changes: 4, window: 15m}\n", FlapPolicy(4, 900.0, 300.0)),
        ("    flapping: {changes: 0}\n", FlapPolicy(0, 600.0, 300.0)),
    ],
    ids=["documented-defaults", "per-check", "off"],
)
def test_flapping_settings_from_the_check_config(yaml: str, expected: FlapPolicy) -> None:
    text = "checks:\n  - name: home\n    type: http\n    url: https://example.com/\n" + yaml
    [check] = parse_config(text).checks
    assert check_policy(check).flap == expected
