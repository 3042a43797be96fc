"""Heartbeat tests: pings, ticks and restarts in, alert transitions out.

Each case is a table row: a series of steps, each with its time, and the
transitions expected as (time, alertname, state). Nothing sleeps: time is
data. The job `backup` runs hourly with 5 minutes grace and is registered at
t=0. It is `new` until its first ping: no deadline, no alert.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from collector.alerting.heartbeats import (
    FAILED,
    MISSED,
    HeartbeatMonitor,
    HeartbeatPolicy,
    PingKind,
    hash_token,
)
from collector.alerting.model import Alert, AlertState
from common.config import ConfigError, parse_config
from common.config.heartbeat import HeartbeatCheck

PERIOD, GRACE = 3600.0, 300.0
FIRING, RESOLVED = AlertState.FIRING, AlertState.RESOLVED


def policy(**overrides: Any) -> HeartbeatPolicy:
    """The `backup` job: hourly, 5m grace, team label."""
    base: dict[str, Any] = {
        "name": "backup",
        "period": PERIOD,
        "grace": GRACE,
        "labels": {"team": "infra"},
    }
    return HeartbeatPolicy(**(base | overrides))


@dataclass(frozen=True)
class Ping:
    """The job calls /ping (or /start, /fail) at `at`."""

    at: float
    kind: PingKind = "success"
    message: str = ""


@dataclass(frozen=True)
class Tick:
    """Time passes: the collector calls `tick`."""

    at: float


@dataclass(frozen=True)
class Restart:
    """The collector saves state at `saved`, stops, and starts at `at`: a new
    monitor loads the state (through JSON, as the store keeps it)."""

    saved: float
    at: float


Step = Ping | Tick | Restart
Transition = tuple[float, str, AlertState]


def restart(monitor: HeartbeatMonitor, step: Restart) -> tuple[HeartbeatMonitor, list[Alert]]:
    """What the collector does across a restart."""
    data = json.loads(json.dumps(monitor.export_state()))
    fresh = HeartbeatMonitor([policy()], now=step.at)
    return fresh, fresh.load_state(data, step.at)


def run(steps: list[Step]) -> list[Transition]:
    """Feed `steps` to a monitor registered at 0; the transitions it emits."""
    monitor = HeartbeatMonitor([policy()], now=0.0)
    out: list[Transition] = []
    for step in steps:
        if isinstance(step, Ping):
            alerts = monitor.ping("backup", step.kind, step.at, step.message)
        elif isinstance(step, Tick):
            alerts = monitor.tick(step.at)
        else:
            monitor, alerts = restart(monitor, step)
        out += [(step.at, a.name, a.state) for a in alerts]
    return out


CASES: list[tuple[str, list[Step], list[Transition]]] = [
    (
        "ping-on-time",
        [Ping(3000), Tick(3899), Tick(6800), Ping(6800), Tick(10000)],
        [],
    ),
    (
        "missed-at-period-plus-grace-not-before",
        [Ping(100), Tick(3999.9), Tick(4000), Tick(4100), Tick(9000)],
        [(4000, MISSED, FIRING)],
    ),
    ("new-job-never-alerts-before-its-first-ping", [Tick(3900), Tick(10 * 86400)], []),
    (
        "first-ping-of-any-kind-starts-the-clock",
        [Tick(5000), Ping(5000, "start"), Tick(8899), Tick(8900)],
        [(8900, MISSED, FIRING)],
    ),
    (
        "first-ping-a-failure-pages-at-once",
        [Ping(50, "fail", "boom")],
        [(50, FAILED, FIRING)],
    ),
    (
        "late-ping-resolves-and-the-clock-restarts",
        [Ping(100), Tick(4000), Ping(4200), Tick(8099), Tick(8100)],
        [(4000, MISSED, FIRING), (4200, MISSED, RESOLVED), (8100, MISSED, FIRING)],
    ),
    (
        "fail-fires-job-failed-success-resolves",
        [Ping(100, "fail", "disk full"), Ping(200), Tick(4000)],
        [(100, FAILED, FIRING), (200, FAILED, RESOLVED)],
    ),
    (
        "failed-job-is-not-also-missed",
        [Ping(100, "fail"), Tick(3900), Tick(20000), Ping(20001)],
        [(100, FAILED, FIRING), (20001, FAILED, RESOLVED)],
    ),
    (
        "repeated-fail-pages-once",
        [Ping(100, "fail"), Ping(3700, "fail"), Ping(7300, "fail")],
        [(100, FAILED, FIRING)],
    ),
    (
        "fail-while-missed-swaps-the-alerts",
        [Ping(0, "start"), Tick(3900), Ping(4000, "fail"), Ping(4100)],
        [
            (3900, MISSED, FIRING),
            (4000, MISSED, RESOLVED),
            (4000, FAILED, FIRING),
            (4100, FAILED, RESOLVED),
        ],
    ),
    (
        "start-does-not-move-the-deadline",
        [Ping(100), Ping(3500, "start"), Tick(4000), Ping(4300)],
        [(4000, MISSED, FIRING), (4300, MISSED, RESOLVED)],
    ),
    (
        "restart-mid-deadline-fires-once",
        [Ping(100), Restart(saved=2000, at=2100), Tick(3999), Tick(4000), Tick(4100)],
        [(4000, MISSED, FIRING)],
    ),
    (
        "deadline-passed-while-down-fires-at-first-tick",
        [Ping(100), Restart(saved=2000, at=9000), Tick(9000), Tick(9005)],
        [(9000, MISSED, FIRING)],
    ),
    (
        "restart-after-fired-does-not-fire-again-but-resolves",
        [Ping(100), Tick(4000), Restart(saved=4000, at=4500), Tick(4600), Ping(4700)],
        [(4000, MISSED, FIRING), (4700, MISSED, RESOLVED)],
    ),
    (
        "restart-after-fail-keeps-the-failure",
        [Ping(100, "fail"), Restart(saved=100, at=200), Tick(9000), Ping(9100)],
        [(100, FAILED, FIRING), (9100, FAILED, RESOLVED)],
    ),
    ("restart-keeps-a-new-job-new", [Restart(saved=10, at=3000), Tick(90000)], []),
    (
        "restart-keeps-the-first-ping",
        [Ping(100, "start"), Restart(saved=200, at=3000), Tick(3999), Tick(4000)],
        [(4000, MISSED, FIRING)],
    ),
]


@pytest.mark.parametrize(("steps", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_transitions(steps: list[Step], expected: list[Transition]) -> None:
    assert run(steps) == expected


def fire_missed(**overrides: Any) -> Alert:
    """The HeartbeatMissed of `backup` pinged at 100, ticked at 4000."""
    monitor = HeartbeatMonitor([policy(**overrides)], now=0.0)
    monitor.ping("backup", "success", 100.0)
    (alert,) = monitor.tick(4000.0)
    return alert


def test_missed_alert_labels_and_text() -> None:
    alert = fire_missed(runbook_url="https://runbooks.example.com/backup")
    assert dict(alert.labels) == {
        "alertname": MISSED,
        "check": "backup",
        "check_type": "heartbeat",
        "severity": "critical",
        "team": "infra",
    }
    assert type(alert.labels["severity"]) is str
    assert alert.starts_at == 4000.0
    notes = alert.annotations
    assert notes["summary"].startswith("job backup missed its heartbeat")
    assert "1970-01-01 00:01:40Z" in notes["description"]  # the last success
    assert "1970-01-01 01:06:40Z" in notes["description"]  # the deadline
    assert notes["last_seen"] == "1970-01-01 00:01:40Z"
    assert notes["deadline"] == "1970-01-01 01:06:40Z"
    assert notes["runbook_url"] == "https://runbooks.example.com/backup"
    json.dumps(alert.to_dict())  # persistable


@pytest.mark.parametrize(
    ("labels", "severity"),
    [({}, "critical"), ({"severity": "warning"}, "warning")],
    ids=["default-critical", "from-check-labels"],
)
def test_severity(labels: dict[str, str], severity: str) -> None:
    assert fire_missed(labels=labels).severity == severity


def test_fingerprint_is_deterministic() -> None:
    first, second = fire_missed(), fire_missed()
    assert first.fingerprint == second.fingerprint
    monitor = HeartbeatMonitor([policy()], now=0.0)
    (failed,) = monitor.ping("backup", "fail", 1.0)
    assert failed.fingerprint != first.fingerprint


def test_missed_text_names_a_run_that_never_finished() -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    monitor.ping("backup", "success", 0.0)
    monitor.ping("backup", "start", 3000.0)
    (alert,) = monitor.tick(3900.0)
    assert (
        "started at 1970-01-01 00:50:00Z and has not finished" in alert.annotations["description"]
    )
    assert alert.annotations["last_seen"] == "1970-01-01 00:50:00Z"


def test_job_failed_text_carries_the_message() -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    (alert,) = monitor.ping("backup", "fail", 100.0, "pg_dump: disk full\nmore output")
    assert alert.annotations["summary"] == "job backup failed: pg_dump: disk full"
    assert "pg_dump: disk full\nmore output" in alert.annotations["description"]
    assert alert.details["message"] == "pg_dump: disk full\nmore output"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("nope", "success"), ("nope", "fail")],
    ids=["unknown-success", "unknown-fail"],
)
def test_ping_for_unknown_job_is_ignored(name: str, kind: PingKind) -> None:
    assert HeartbeatMonitor([policy()], now=0.0).ping(name, kind, 1.0) == []


def test_bad_ping_kind() -> None:
    with pytest.raises(ValueError, match="ping kind 'oops'"):
        HeartbeatMonitor([policy()], now=0.0).ping("backup", "oops", 1.0)  # type: ignore[arg-type]  # the API must map paths


def test_removed_check_resolves_its_alert_and_token() -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    token = monitor.token_for("backup")
    assert token is not None
    monitor.ping("backup", "start", 0.0)
    monitor.tick(3900.0)
    (resolved,) = monitor.set_policies([], 4000.0)
    assert (resolved.name, resolved.state) == (MISSED, RESOLVED)
    assert monitor.check_for_token(token) is None


def test_load_state_resolves_alerts_of_removed_checks() -> None:
    old = HeartbeatMonitor([policy()], now=0.0)
    old.ping("backup", "start", 0.0)
    old.tick(3900.0)
    fresh = HeartbeatMonitor([], now=5000.0)
    (resolved,) = fresh.load_state(json.loads(json.dumps(old.export_state())), 5000.0)
    assert (resolved.name, resolved.state, resolved.ends_at) == (MISSED, RESOLVED, 5000.0)


@pytest.mark.parametrize(
    ("pings", "at", "state", "deadline"),
    [
        ([], 99999.0, "new", None),
        ([(100.0, "start")], 200.0, "up", 4000.0),
        ([(100.0, "success")], 4001.0, "missed", 4000.0),
        ([(100.0, "fail")], 200.0, "failed", 4000.0),
    ],
    ids=["new-until-first-ping", "up-after-a-start", "missed", "failed"],
)
def test_status_states(
    pings: list[tuple[float, PingKind]], at: float, state: str, deadline: float | None
) -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    for when, kind in pings:
        monitor.ping("backup", kind, when)
    monitor.tick(at)
    (row,) = monitor.status(at)
    assert (row["state"], row["deadline"]) == (state, deadline)


def test_status_and_next_deadline() -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    assert monitor.next_deadline() is None  # new: nothing to wait for
    monitor.ping("backup", "success", 100.0)
    assert monitor.next_deadline() == 4000.0
    (row,) = monitor.status(4001.0)
    assert row["state"] == "missed"
    assert row["deadline"] == 4000.0
    monitor.tick(4001.0)
    assert monitor.next_deadline() is None  # nothing left to fire


# --- tokens ----------------------------------------------------------------


def test_token_has_at_least_128_bits_and_is_shown_once() -> None:
    monitor = HeartbeatMonitor([policy(), policy(name="report")], now=0.0)
    token = monitor.token_for("backup")
    assert token is not None
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    assert monitor.token_shown("backup")
    assert monitor.token_for("backup") is None
    assert monitor.check_for_token(token) == "backup"
    other = monitor.token_for("report")
    assert other is not None and other != token
    assert monitor.check_for_token(other) == "report"


@pytest.mark.parametrize(
    "token",
    ["", "guess", "x" * 5000],
    ids=["empty", "unknown", "huge"],
)
def test_unknown_tokens_find_nothing(token: str) -> None:
    assert HeartbeatMonitor([policy()], now=0.0).check_for_token(token) is None


def test_issue_token_rotates() -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    old = monitor.token_for("backup")
    new = monitor.issue_token("backup")
    assert old is not None and new != old
    assert monitor.check_for_token(old) is None
    assert monitor.check_for_token(new) == "backup"
    assert monitor.token_hash("backup") == hash_token(new)
    with pytest.raises(KeyError):
        monitor.issue_token("nope")


def test_exported_state_holds_only_the_hash() -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    token = monitor.token_for("backup")
    assert token is not None
    text = json.dumps(monitor.export_state())
    assert token not in text
    assert hash_token(token) in text
    fresh = HeartbeatMonitor([policy()], now=10.0)
    fresh.load_state(json.loads(text), 10.0)
    assert fresh.check_for_token(token) == "backup"
    assert fresh.token_for("backup") is None  # shown before the restart


def test_unshown_token_lost_in_restart_is_replaced() -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    fresh = HeartbeatMonitor([policy()], now=10.0)
    fresh.load_state(json.loads(json.dumps(monitor.export_state())), 10.0)
    token = fresh.token_for("backup")
    assert token is not None
    assert fresh.check_for_token(token) == "backup"


def test_load_token_hashes_wins_over_older_state() -> None:
    monitor = HeartbeatMonitor([policy()], now=0.0)
    state = json.loads(json.dumps(monitor.export_state()))
    rotated = monitor.issue_token("backup")  # after the last state save
    fresh = HeartbeatMonitor([policy()], now=10.0)
    fresh.load_state(state, 10.0)
    fresh.load_token_hashes({"backup": hash_token(rotated), "gone": "0" * 64})
    assert fresh.check_for_token(rotated) == "backup"
    assert fresh.token_shown("backup")


# --- config ----------------------------------------------------------------


def heartbeat_yaml(body: str) -> str:
    """A checks file with one heartbeat `b` whose fields are `body`."""
    return "checks:\n  - name: b\n    type: heartbeat\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )


@pytest.mark.parametrize(
    ("body", "period", "grace"),
    [
        ("period: 1h", 3600.0, 360.0),
        ("period: 1m", 60.0, 60.0),
        ("period: 24h", 86400.0, 8640.0),
        ("period: 1h\ngrace: 0s", 3600.0, 0.0),
        ("period: 1h\ngrace: 30m", 3600.0, 1800.0),
    ],
    ids=["default-10pct", "default-at-least-1m", "default-daily", "zero-grace", "explicit"],
)
def test_config_grace(body: str, period: float, grace: float) -> None:
    (check,) = parse_config(heartbeat_yaml(body), source="checks.yaml").checks
    assert isinstance(check, HeartbeatCheck)
    assert (check.period, check.grace, check.overdue_after) == (period, grace, period + grace)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "period: 500ms",
            "checks.yaml:4: check 'b': field 'period': period 500ms must be at least 1s",
        ),
        (
            "period: 60",
            "checks.yaml:4: check 'b': field 'period': bad duration 60: add a unit, e.g. 60s",
        ),
        (
            "period: 1h\ngrace: 5",
            "checks.yaml:5: check 'b': field 'grace': bad duration 5: add a unit, e.g. 5s",
        ),
        ("grace: 5m", "checks.yaml:2: check 'b': field 'period': Field required"),
        ("period: 1h\ntoken: abc", "checks.yaml:5: check 'b': unknown key 'token'"),
    ],
    ids=[
        "period-too-short",
        "period-without-unit",
        "grace-without-unit",
        "no-period",
        "no-token-in-yaml",
    ],
)
def test_config_errors(body: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(heartbeat_yaml(body), source="checks.yaml")
    assert caught.value.problems[0].startswith(message)


def test_negative_grace_from_code() -> None:
    with pytest.raises(ValueError, match="grace -5s must not be negative"):
        HeartbeatCheck(name="b", period=60.0, grace=-5.0)


def test_heartbeats_are_sent_to_no_agent() -> None:
    config = parse_config(heartbeat_yaml("period: 1h\nregions: [eu-west]"))
    assert config.for_region("eu-west") == ()
    assert config.check("b") is not None
