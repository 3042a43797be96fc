"""Matchers, silences, maintenance windows and inhibition rules: labels and a
time in, muted or not out."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest

from collector.alerting.config import parse_alerting
from collector.alerting.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule, inhibited
from collector.alerting.silences import MaintenanceWindow, Matchers, Silence, Silences

HOUR = 3600.0
BERLIN = ZoneInfo("Europe/Berlin")


def local(zone: tzinfo, day: tuple[int, int, int], hour: int, minute: int = 0) -> float:
    """Unix time of a wall-clock time in `zone`."""
    return datetime(*day, hour, minute, tzinfo=zone).timestamp()


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    """Unix time of a UTC wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("matchers", "labels", "expected"),
    [
        (Matchers({"check": "home"}), {"check": "home", "severity": "critical"}, True),
        (Matchers({"check": "home"}), {"check": "homepage"}, False),
        (Matchers(regex={"check": re.compile("home|api")}), {"check": "api"}, True),
        (Matchers(regex={"check": re.compile("home|api")}), {"check": "api2"}, False),
        (Matchers({"team": ""}), {"check": "home"}, True),
        (Matchers({"check": "home"}, {"region": re.compile("eu-.*")}), {"check": "home"}, False),
        (Matchers(), {"anything": "x"}, True),
    ],
    ids=[
        "equal",
        "equal-is-exact",
        "regex",
        "regex-is-full-match",
        "missing-is-empty",
        "all-must-hold",
        "empty",
    ],
)
def test_matchers(matchers: Matchers, labels: dict[str, str], expected: bool) -> None:
    assert matchers.matches(labels) is expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [(99.0, False), (100.0, True), (199.0, True), (200.0, False)],
    ids=["before", "at-start", "inside", "at-end"],
)
def test_silence_bounds(now: float, expected: bool) -> None:
    silences = Silences()
    silences.add(Silence(Matchers({"check": "home"}), starts_at=100, ends_at=200))
    assert silences.is_silenced({"check": "home"}, now) is expected
    assert not silences.is_silenced({"check": "api"}, now)


def test_silence_id_is_derived_from_content_and_expire_ends_it() -> None:
    one = Silence(Matchers({"check": "home"}), 0, HOUR, comment="db upgrade")
    assert one.id == Silence(Matchers({"check": "home"}), 0, HOUR, comment="db upgrade").id
    assert one.id != Silence(Matchers({"check": "api"}), 0, HOUR, comment="db upgrade").id
    silences = Silences()
    silences.add(one)
    assert silences.expire(one.id, now=60)
    assert not silences.is_silenced({"check": "home"}, 61)
    assert not silences.expire("nope", now=60)


def test_silences_round_trip_and_prune() -> None:
    silences = Silences()
    silences.add(Silence(Matchers({"check": "home"}, {"region": re.compile("eu-.*")}), 0, HOUR))
    silences.add(Silence(Matchers({"check": "old"}), 0, 10))
    restored = Silences()
    restored.load_state(json.loads(json.dumps(silences.export_state())))
    assert restored.silences() == silences.silences()
    restored.prune(now=100)
    assert [s.matchers.equal["check"] for s in restored.silences()] == ["home"]
    assert restored.is_silenced({"check": "home", "region": "eu-west"}, 100)


SAT_NIGHT = MaintenanceWindow(Matchers({"check": "home"}), frozenset({5}), start=2 * 60, end=4 * 60)
OVERNIGHT = MaintenanceWindow(
    Matchers({"check": "home"}), frozenset({4}), start=23 * 60, end=1 * 60
)
BERLIN_SUNDAY = MaintenanceWindow(
    Matchers({"check": "home"}), frozenset({6}), start=2 * 60, end=4 * 60, timezone="Europe/Berlin"
)

WINDOWS = [
    (SAT_NIGHT, utc(2025, 3, 1, 1, 59), False),
    (SAT_NIGHT, utc(2025, 3, 1, 2, 0), True),
    (SAT_NIGHT, utc(2025, 3, 1, 3, 59), True),
    (SAT_NIGHT, utc(2025, 3, 1, 4, 0), False),
    (SAT_NIGHT, utc(2025, 3, 2, 3, 0), False),
    (OVERNIGHT, utc(2025, 2, 28, 23, 30), True),
    (OVERNIGHT, utc(2025, 3, 1, 0, 30), True),
    (OVERNIGHT, utc(2025, 3, 1, 1, 0), False),
    (OVERNIGHT, utc(2025, 3, 1, 23, 30), False),
    # 2025-03-30 is the Sunday Berlin moves to summer time at 02:00 -> 03:00
    (BERLIN_SUNDAY, local(BERLIN, (2025, 3, 30), 3, 30), True),
    (BERLIN_SUNDAY, local(BERLIN, (2025, 3, 30), 4), False),
    (BERLIN_SUNDAY, local(BERLIN, (2025, 3, 23), 2, 30), True),
    (BERLIN_SUNDAY, utc(2025, 3, 23, 3, 30), False),
]


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    WINDOWS,
    ids=[
        "before",
        "opens",
        "inside",
        "closes",
        "other-day",
        "friday-night",
        "after-midnight-still-open",
        "overnight-closes",
        "saturday-night-not-listed",
        "dst-day-inside",
        "dst-day-closes",
        "local-time-inside",
        "utc-is-not-local",
    ],
)
def test_maintenance_window(window: MaintenanceWindow, now: float, expected: bool) -> None:
    assert window.active(now) is expected


def test_window_next_change() -> None:
    friday = utc(2025, 2, 28, 12, 0)
    assert SAT_NIGHT.next_change(friday) == utc(2025, 3, 1, 2, 0)
    assert SAT_NIGHT.next_change(utc(2025, 3, 1, 2, 0)) == utc(2025, 3, 1, 4, 0)
    assert SAT_NIGHT.next_change(utc(2025, 3, 1, 5, 0)) == utc(2025, 3, 8, 2, 0)


def test_silences_next_change_covers_both_kinds() -> None:
    silences = Silences([SAT_NIGHT])
    now = utc(2025, 2, 28, 12, 0)
    silences.add(Silence(Matchers({"check": "api"}), starts_at=now - 10, ends_at=now + 60))
    assert silences.next_change(now) == now + 60
    assert silences.next_change(now + 60) == utc(2025, 3, 1, 2, 0)


def test_window_from_config() -> None:
    config = parse_alerting(
        {
            "silences": [
                {
                    "matchers": {"check": "home"},
                    "matchers_re": {"region": "eu-.*"},
                    "weekly": {"days": ["Saturday", "sun"], "start": "22:00", "end": "24:00"},
                    "timezone": "Europe/Berlin",
                }
            ]
        }
    )
    [window] = config.windows
    assert (window.days, window.start, window.end) == (frozenset({5, 6}), 22 * 60, 24 * 60)
    assert window.active(local(BERLIN, (2025, 3, 1), 23))
    assert Silences(config.windows).is_silenced(
        {"check": "home", "region": "eu-west"}, local(BERLIN, (2025, 3, 2), 22, 30)
    )


# --- inhibition -------------------------------------------------------------------------

NX = {"alertname": "DnsMismatch", "reason": "dns_nxdomain", "host": "a.example", "check": "a-dns"}
DOWN = {"alertname": "CheckDown", "check": "home", "check_type": "http", "host": "a.example"}


@pytest.mark.parametrize(
    ("target", "sources", "expected"),
    [
        (DOWN, [NX], True),
        (DOWN | {"check_type": "tls"}, [NX], True),
        (DOWN | {"host": "b.example"}, [NX], False),
        (DOWN, [NX | {"reason": "assertion"}], False),
        ({"alertname": "LatencyHigh", "check": "home"}, [DOWN], True),
        ({"alertname": "ErrorRatioHigh", "check": "home"}, [DOWN], True),
        ({"alertname": "LatencyHigh", "check": "api"}, [DOWN], False),
        ({"alertname": "CertExpiring", "check": "home"}, [DOWN], False),
        (DOWN, [DOWN], False),
        (DOWN | {"host": ""}, [NX | {"host": ""}], False),
    ],
    ids=[
        "nxdomain-mutes-http-same-host",
        "nxdomain-mutes-tls-same-host",
        "other-host",
        "wrong-answer-is-not-nxdomain",
        "outage-mutes-latency",
        "outage-mutes-error-ratio",
        "other-check",
        "not-an-slo-alert",
        "never-itself",
        "equal-labels-must-be-present",
    ],
)
def test_default_inhibition(
    target: dict[str, str], sources: list[dict[str, str]], expected: bool
) -> None:
    assert inhibited(target, sources, DEFAULT_INHIBIT_RULES) is expected


def test_custom_inhibit_rule() -> None:
    rule = InhibitRule(
        Matchers({"alertname": "AgentDown"}), Matchers({"alertname": "X"}), ("region",)
    )
    assert rule.inhibits(
        {"alertname": "AgentDown", "region": "eu"}, {"alertname": "X", "region": "eu"}
    )
    assert not rule.inhibits(
        {"alertname": "AgentDown", "region": "eu"}, {"alertname": "X", "region": "us"}
    )
