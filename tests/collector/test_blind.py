"""`MonitoringBlind` and `AgentDown`: what fires when the monitor cannot see.

Table rows of steps (results, ticks with the number of connected agents)
and the transitions expected; time is data, nothing sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from collector.alerting.evaluator import Evaluator
from collector.alerting.model import Alert
from tests.collector.test_evaluator import AP, EU, REGIONS, US, policy, result


@dataclass(frozen=True)
class Tick:
    """Time passes with `connected` agents streaming (None: not known)."""

    at: float
    connected: int | None = None


@dataclass(frozen=True)
class Ok:
    """A success of `check` in every region in `regions` at `at`."""

    at: float
    check: str = "home"
    regions: tuple[str, ...] = REGIONS


Step = Tick | Ok


def feed(steps: list[Step], ev: Evaluator | None = None) -> tuple[Evaluator, list[Alert]]:
    ev = ev or Evaluator([policy(), policy(name="api", interval=600.0)], now=0.0)
    out: list[Alert] = []
    for step in steps:
        if isinstance(step, Tick):
            out += ev.tick(step.at, step.connected)
        else:
            for region in step.regions:
                out += ev.observe(result(step.at, region, True, check=step.check), step.at)
    return ev, out


def run(steps: list[Step]) -> tuple[Evaluator, list[tuple[float, str, str]]]:
    ev, out = feed(steps)
    return ev, [(a.starts_at if a.ends_at is None else a.ends_at, a.name, a.state) for a in out]


BLIND = [
    pytest.param(
        [Ok(0), Ok(0, "api"), Ok(100), Tick(151, 3), Tick(200, 3)],
        [],
        id="all-reporting-nothing",
    ),
    pytest.param(
        # home (60 s) goes stale in every region at 150 s; api (600 s) not.
        [Ok(0), Ok(0, "api"), Tick(149, 3), Tick(150, 3)],
        [],
        id="stale-needs-more-than-the-limit",
    ),
    pytest.param(
        [Ok(0), Ok(0, "api"), Tick(151, 3), Tick(160, 3)],
        [(151, "AgentDown", "firing")] * 3 + [(151, "MonitoringBlind", "firing")],
        id="every-region-of-one-check-stale-is-blind",
    ),
    pytest.param(
        [Ok(0), Ok(0, "api"), Ok(100, "home", (EU, US)), Tick(151, 3)],
        [(151, "AgentDown", "firing")],
        id="one-region-stale-is-not-blind",
    ),
    pytest.param(
        [Ok(0), Ok(0, "api"), Tick(10, 2), Ok(100), Tick(160, 0), Tick(161, 0)],
        [(161, "MonitoringBlind", "firing")],
        id="no-agent-connected-for-the-stale-limit-is-blind",
    ),
    pytest.param(
        [Ok(0), Ok(0, "api"), Tick(10, 2), Ok(100), Tick(161, 0), Tick(162, 2)],
        [(161, "MonitoringBlind", "firing"), (162, "MonitoringBlind", "resolved")],
        id="an-agent-back-resolves",
    ),
    pytest.param(
        [Ok(0), Ok(0, "api"), Tick(151, 3), Ok(155), Tick(156, 3)],
        [(151, "AgentDown", "firing")] * 3
        + [(151, "MonitoringBlind", "firing"), (156, "MonitoringBlind", "resolved")]
        + [(156, "AgentDown", "resolved")] * 3,
        id="results-again-resolve",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), BLIND)
def test_monitoring_blind(steps: list[Step], expected: list[tuple[float, str, str]]) -> None:
    assert sorted(run(steps)[1]) == sorted(expected)


def test_blind_names_the_unwatched_checks_and_pages() -> None:
    ev, _ = run([Ok(0), Ok(0, "api"), Tick(10, 2), Ok(100), Tick(161, 0)])
    [blind] = [a for a in ev.active_alerts() if a.name == "MonitoringBlind"]
    assert blind.severity == "critical"
    assert blind.annotations["checks"] == "api, home"
    assert "no agent is connected" in blind.annotations["summary"]


def test_agent_down_names_the_assigned_checks_and_keeps_it_current() -> None:
    # Only `home` (60 s) is stale at 151 s; `api` (600 s) is not yet, but the
    # silent agent probes it too, so the alert names both from the start.
    ev, _ = run([Ok(0), Ok(0, "api"), Ok(100, "home", (EU, US)), Tick(151, 3)])
    [down] = ev.active_alerts()
    assert (down.labels["agent"], down.annotations["checks"]) == ("agent-ap-south", "api, home")
    ev.set_policies([policy(), policy(name="api", interval=600.0), policy(name="new")], 152.0)
    assert ev.tick(152.0, 3) == []  # not news
    [refreshed] = ev.alerts.take_refreshed()
    assert refreshed.annotations["checks"] == "api, home, new"
    assert refreshed.starts_at == down.starts_at
    assert AP in refreshed.annotations["summary"]


def test_a_page_names_the_first_checks_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An agent of 50,000 checks going silent pages with a readable list,
    not all of them (each change of that list rewrote ~1 MB of state)."""
    monkeypatch.setattr("collector.alerting.texts.NAMED_MOST", 1)
    ev, _ = run([Ok(0), Ok(0, "api"), Ok(100, "home", (EU, US)), Tick(151, 3)])
    [down] = ev.active_alerts()
    assert down.annotations["checks"] == "api and 1 more"
    assert "It probes 2 checks: api and 1 more." in down.annotations["description"]
    ev, _ = run([Ok(0), Ok(0, "api"), Tick(10, 2), Ok(100), Tick(161, 0)])
    [blind] = [a for a in ev.active_alerts() if a.name == "MonitoringBlind"]
    assert blind.annotations["checks"] == "api and 1 more"
    assert "blind for 2 checks" in blind.annotations["summary"]


def test_no_page_for_blindness_while_agents_reconnect_after_a_start() -> None:
    ev = Evaluator([policy(interval=1.0, stale_grace=1.0)], now=0.0)
    names = [a.name for t in (5.0, 19.0) for a in ev.tick(t, 0)]
    assert "MonitoringBlind" not in names  # stale, but the collector just started
    assert "MonitoringBlind" in [a.name for a in ev.tick(20.0, 0)]


@pytest.mark.parametrize(
    ("ticks", "fired"),
    [
        pytest.param([5.0, 19.0], False, id="agents-slow-to-start-are-not-down"),
        pytest.param([5.0, 20.0], True, id="still-silent-after-the-grace-is-down"),
    ],
)
def test_no_agent_down_while_agents_start(ticks: list[float], fired: bool) -> None:
    # stale after 3 s, but the agents of a fresh collector may take longer
    # to start and send a first result on a loaded machine
    ev = Evaluator([policy(interval=1.0, stale_grace=1.0)], now=0.0)
    names = [a.name for t in ticks for a in ev.tick(t, 3)]
    assert ("AgentDown" in names) is fired


@pytest.mark.parametrize(
    ("steps", "alertname", "summary"),
    [
        pytest.param(
            [Ok(0), Ok(0, "api"), Tick(10, 2), Ok(100), Tick(161, 0), Tick(162, 2)],
            "MonitoringBlind",
            "monitoring sees again: every check has a region reporting",
            id="blind",
        ),
        pytest.param(
            [Ok(0), Ok(0, "api"), Tick(151, 3), Ok(155), Tick(156, 3)],
            "AgentDown",
            "agent agent-ap-south in ap-south is reporting again",
            id="agent",
        ),
    ],
)
def test_a_resolve_says_what_ended_not_what_fired(
    steps: list[Step], alertname: str, summary: str
) -> None:
    # The SMS and webhook summary of a resolve is this line: the firing one
    # ("monitoring is blind for 2 checks") read as if it still held.
    _, out = feed(steps)
    resolved = [a for a in out if a.name == alertname and a.state == "resolved"]
    assert summary in {a.annotations["summary"] for a in resolved}


def restarted(at: float) -> Evaluator:
    """A collector that was blind (every agent dead, every region stale) and
    restarts at `at` from its saved state."""
    before, _ = feed([Ok(0), Ok(0, "api"), Tick(10, 2), Tick(161, 0)])
    assert {a.name for a in before.active_alerts()} == {"MonitoringBlind", "AgentDown"}
    after = Evaluator([policy(), policy(name="api", interval=600.0)], now=at)
    after.load_state(before.export_state(), at)
    return after


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [Tick(201, 0), Tick(215, 0), Tick(240, 0)],
            [],
            id="still-blind-across-a-restart-is-no-news",
        ),
        pytest.param(
            [Tick(201, 0), Ok(205), Ok(205, "api"), Tick(206, 3)],
            [(206, "MonitoringBlind", "resolved")] + [(206, "AgentDown", "resolved")] * 3,
            id="agents-back-after-a-restart-resolve",
        ),
    ],
)
def test_a_restart_neither_resolves_nor_repages_blindness(
    steps: list[Step], expected: list[tuple[float, str, str]]
) -> None:
    _, out = feed(steps, restarted(200.0))
    got = [(a.starts_at if a.ends_at is None else a.ends_at, a.name, a.state) for a in out]
    assert sorted(got) == sorted(expected)
