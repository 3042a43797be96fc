"""Every receiver's message leads with what changed since the group's last
notification. The group goes through the real dispatcher: `LatencyHigh web`
and `CheckDown home` are notified, then `CheckDown home` resolves while
`CheckDown api` newly fires. The next message has one new alert, one
resolved and one still firing, and each receiver must say so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from collector.alerting import texts
from collector.alerting.config import parse_alerting
from collector.alerting.dispatcher import Dispatcher
from collector.alerting.model import Alert, AlertState, Notification
from collector.alerting.notifiers import email, pagerduty, render, slack, webhook
from collector.alerting.receivers import EmailSpec, SmtpSpec
from collector.alerting.regions import Failure, Incident
from tests.collector.test_notifiers import FIRING, POLICY, RESOLVED, T0

API = replace(POLICY, name="api", labels={"severity": "critical", "service": "api"})
NEW = texts.outage(
    API,
    "api.example.com",
    Incident(
        check="api",
        alertname="CheckDown",
        started_at=T0 + 200,
        confirmed_at=T0 + 210,
        regions={"ap-south": Failure(T0 + 200, "timeout", "read timed out", "req-ap-1", "a")},
    ),
)


def slow_alert() -> Alert:
    """`LatencyHigh web`, warning (another check: `CheckDown home` would
    inhibit `LatencyHigh web`)."""
    labels = {"alertname": "LatencyHigh", "check": "web", "severity": "warning"}
    notes = {"summary": "web p95 latency 620ms over 500ms in the last 5m"}
    return Alert(labels, notes, AlertState.FIRING, T0)


def group(resolve: bool = True, new: bool = True) -> Notification:
    """The second notification of the group, from the real dispatcher."""
    hook = {"name": "r", "type": "webhook", "url": "http://127.0.0.1:9/"}
    route = {"receivers": ["r"], "group_by": [], "group_interval": "1m"}
    d = Dispatcher(parse_alerting({"route": route, "receivers": [hook]}))
    d.push(slow_alert(), T0)
    d.push(FIRING, T0)
    assert len(d.flush(T0 + 10)) == 1  # both notified
    if resolve:
        d.push(RESOLVED, T0 + 300)
    if new:
        d.push(NEW, T0 + 300)
    [note] = d.flush(T0 + 300)
    return note


def _pd(note: Notification) -> Any:
    return [(e["event_action"], e["dedup_key"]) for e in map(_event, note.fired + note.resolved)]


def _event(alert: Alert) -> dict[str, Any]:
    return pagerduty.event(alert, "0" * 32)


def _slack_headers(note: Notification) -> list[str]:
    blocks = slack.message(note)["blocks"]
    return [
        b["text"]["text"] if b["type"] == "header" else b["elements"][0]["text"]
        for b in blocks
        if b["type"] == "header" or b.get("elements", [{}])[0].get("text") == "*Still firing:*"
    ]


def _email_sections(note: Notification) -> list[str]:
    body = email.body(note)
    return [line for line in body.splitlines() if line.startswith(("==", "[FIRING]", "[RESOLVED]"))]


HEADLINE = (
    "[FIRING] CheckDown api (ap-south); resolved: CheckDown home; still firing: LatencyHigh web"
)
SPEC = EmailSpec(
    smtp=SmtpSpec(host="127.0.0.1"), sender="vantage@example.com", to=("oncall@example.com",)
)

CASES: list[tuple[str, Callable[[Notification], Any], Any]] = [
    ("webhook-summary", lambda n: webhook.payload(n)["summary"], HEADLINE),
    (
        "webhook-changes",
        lambda n: webhook.payload(n)["changes"],
        {"firing": [NEW.fingerprint], "resolved": [FIRING.fingerprint]},
    ),
    (
        "webhook-order",
        lambda n: [
            (a["status"], a["labels"]["alertname"], a["labels"]["check"])
            for a in webhook.payload(n)["alerts"]
        ],
        [
            ("firing", "CheckDown", "api"),
            ("resolved", "CheckDown", "home"),
            ("firing", "LatencyHigh", "web"),
        ],
    ),
    ("email-subject", lambda n: email.build_message(n, SPEC)["Subject"], HEADLINE),
    (
        "email-body",
        _email_sections,
        [
            "== Newly firing (1) ==",
            "[FIRING] CheckDown api",
            "== Resolved (1) ==",
            "[RESOLVED] CheckDown home",
            "== Still firing (1) ==",
            "[FIRING] LatencyHigh web",
        ],
    ),
    ("slack-title", lambda n: slack.message(n)["text"].split(": api down")[0], HEADLINE),
    (
        "slack-blocks",
        _slack_headers,
        [
            "🔴 [FIRING] CheckDown api",
            "✅ [RESOLVED] CheckDown home",
            "*Still firing:*",
            "🟠 [FIRING] LatencyHigh web",
        ],
    ),
    (
        "pagerduty-trigger-new-resolve-resolved-nothing-for-ongoing",
        _pd,
        [("trigger", NEW.fingerprint), ("resolve", FIRING.fingerprint)],
    ),
    (
        "sms",
        render.short_text,
        "[FIRING] api down in ap-south: timeout; resolved: CheckDown home; still firing: LatencyHigh web",
    ),
]


@pytest.mark.parametrize(("render_", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_new_one_resolved_one_still_firing(
    render_: Callable[[Notification], Any], expected: Any
) -> None:
    assert render_(group()) == expected


RESOLVE_ONLY: list[tuple[str, Callable[[Notification], Any], Any]] = [
    (
        "subject-never-reads-firing",
        render.headline,
        "[RESOLVED] CheckDown home (eu-west, us-east); still firing: LatencyHigh web",
    ),
    (
        "sms-says-recovered",
        render.short_text,
        "[RESOLVED] home recovered after 5m (was down in eu-west, us-east); still firing: LatencyHigh web",
    ),
    ("pagerduty-only-the-resolve", _pd, [("resolve", FIRING.fingerprint)]),
    ("regions-are-the-alerts-own", lambda n: render.regions(n.lead), ["eu-west", "us-east"]),
]


@pytest.mark.parametrize(
    ("render_", "expected"), [c[1:] for c in RESOLVE_ONLY], ids=[c[0] for c in RESOLVE_ONLY]
)
def test_a_resolve_with_others_still_firing(
    render_: Callable[[Notification], Any], expected: Any
) -> None:
    assert render_(group(new=False)) == expected


def test_a_reminder_has_no_news() -> None:
    note = Notification("r", "g", {}, (FIRING,), frozenset())
    assert render.headline(note) == "[STILL FIRING] CheckDown home (eu-west, us-east)"
    assert _pd(note) == []
