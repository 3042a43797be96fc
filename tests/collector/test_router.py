"""Router, dispatcher and `alerting:` config tests.

Dispatcher cases are tables: alert events with their times go in, and a
small driver plays the async loop (flush at every `next_deadline`), so the
notifications come out with the times they would be sent. Nothing sleeps.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from collector.alerting.config import AlertingConfig, parse_alerting
from collector.alerting.dispatcher import Dispatcher
from collector.alerting.evaluator import CheckPolicy, Evaluator
from collector.alerting.model import Alert, AlertState
from collector.alerting.router import Router
from collector.alerting.silences import Matchers, Silence
from collector.model import Sample
from common.config import ConfigError
from common.reasons import FailureReason

ISSUE_YAML = """
alerting:
  route:
    receivers: [oncall-webhook]
    group_by: [check]
    routes:
      - match: {severity: critical}
        receivers: [pager, oncall-webhook]
        group_wait: 0s
      - match: {severity: warning}
        receivers: [slack]
  receivers:
    - {name: oncall-webhook, type: webhook, url: "http://127.0.0.1:9999/hook"}
    - {name: pager, type: pagerduty, routing_key: "${env:PD_ROUTING_KEY}"}
    - {name: slack, type: slack, url: "${env:SLACK_WEBHOOK_URL}"}
    - {name: mail, type: email, smtp: {host: 127.0.0.1, port: 2525},
       from: vantage@example.com, to: [oncall@example.com]}
    - {name: am, type: alertmanager, url: "http://127.0.0.1:9093"}
    - {name: sms, type: sms, url: "${env:SMS_GATEWAY_URL}", to: ["+15550100"]}
"""
ENV = {
    "PD_ROUTING_KEY": "pd-key",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.test/x",
    "SMS_GATEWAY_URL": "http://sms.test/send",
}
HOUR = 3600.0


def section(text: str = ISSUE_YAML) -> dict[str, Any]:
    """The `alerting:` mapping of a YAML document."""
    data: dict[str, Any] = yaml.safe_load(text)["alerting"]
    return data


ISSUE = parse_alerting(section(), ENV)


def alert(
    name: str = "CheckDown", check: str = "home", severity: str = "critical", **labels: str
) -> Alert:
    """A firing alert; pass `repeat=False` through `labels` as a string."""
    repeat = labels.pop("repeat", "true") == "true"
    base = {"alertname": name, "check": check, "severity": severity}
    return Alert(
        base | labels, {"summary": f"{check} {name}"}, AlertState.FIRING, 0.0, repeat=repeat
    )


def resolved(fired: Alert) -> Alert:
    """The resolve of `fired`."""
    return replace(fired, state=AlertState.RESOLVED, ends_at=1.0)


Sent = tuple[float, str, str, tuple[str, ...]]


def drive(
    events: list[tuple[float, Alert]],
    until: float,
    dispatcher: Dispatcher | None = None,
    config: AlertingConfig = ISSUE,
) -> list[Sent]:
    """Play the async driver: push events at their times, flush at every
    deadline up to `until`. Returns (time, receiver, state, alerts)."""
    d = dispatcher or Dispatcher(config)
    pending = sorted(events, key=lambda e: e[0])
    out: list[Sent] = []
    now = 0.0
    for _ in range(1000):  # a deadline that never clears would loop forever
        deadline = d.next_deadline(now)
        times = [t for t in (deadline, pending[0][0] if pending else None) if t is not None]
        if not times or min(times) > until:
            return out
        now = max(now, min(times))
        while pending and pending[0][0] <= now:
            d.push(pending.pop(0)[1], now)
        for n in d.flush(now):
            names = tuple(sorted(f"{a.name}/{a.labels['check']}/{a.state}" for a in n.alerts))
            out.append((now, n.receiver, str(n.state), names))
    raise AssertionError("the dispatcher never went idle")


HOME = alert()
API = alert(check="api")
CERT = alert("CertExpiring", repeat="false")
SLOW = alert("LatencyHigh", severity="warning")

DISPATCH = [
    pytest.param(
        [(0, HOME)],
        2 * 60,
        [
            (0, "pager", "firing", ("CheckDown/home/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
        ],
        id="critical-pages-pager-and-webhook-at-once",
    ),
    pytest.param(
        [(0, SLOW)],
        2 * 60,
        [(10, "slack", "firing", ("LatencyHigh/home/firing",))],
        id="warning-to-slack-after-group-wait",
    ),
    pytest.param(
        [(0, alert(severity="info"))],
        2 * 60,
        [(10, "oncall-webhook", "firing", ("CheckDown/home/firing",))],
        id="unmatched-falls-to-root",
    ),
    pytest.param(
        [(0, HOME), (0, CERT)],
        2 * 60,
        [
            (0, "pager", "firing", ("CertExpiring/home/firing", "CheckDown/home/firing")),
            (0, "oncall-webhook", "firing", ("CertExpiring/home/firing", "CheckDown/home/firing")),
        ],
        id="grouping-by-check-merges",
    ),
    pytest.param(
        [(0, HOME), (30, CERT)],
        2 * 60,
        [
            (0, "pager", "firing", ("CheckDown/home/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
            (60, "pager", "firing", ("CertExpiring/home/firing", "CheckDown/home/firing")),
            (60, "oncall-webhook", "firing", ("CertExpiring/home/firing", "CheckDown/home/firing")),
        ],
        id="news-in-a-paged-group-waits-group-interval",
    ),
    pytest.param(
        [(0, HOME), (0, API)],
        2 * 60,
        [
            (0, "pager", "firing", ("CheckDown/home/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
            (0, "pager", "firing", ("CheckDown/api/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/api/firing",)),
        ],
        id="different-checks-different-groups",
    ),
    pytest.param(
        [(0, HOME)],
        4 * HOUR + 60,
        [
            (0, "pager", "firing", ("CheckDown/home/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
            (4 * HOUR, "pager", "firing", ("CheckDown/home/firing",)),
            (4 * HOUR, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
        ],
        id="repeat-interval-while-firing",
    ),
    pytest.param(
        [(0, CERT)],
        9 * HOUR,
        [
            (0, "pager", "firing", ("CertExpiring/home/firing",)),
            (0, "oncall-webhook", "firing", ("CertExpiring/home/firing",)),
        ],
        id="certificate-notice-never-repeats",
    ),
    pytest.param(
        [(0, HOME), (100, resolved(HOME))],
        5 * HOUR,
        [
            (0, "pager", "firing", ("CheckDown/home/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
            (100, "pager", "resolved", ("CheckDown/home/resolved",)),
            (100, "oncall-webhook", "resolved", ("CheckDown/home/resolved",)),
        ],
        id="resolved-sent-once",
    ),
    pytest.param(
        [(0, HOME), (30, resolved(HOME))],
        2 * 60,
        [
            (0, "pager", "firing", ("CheckDown/home/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
            (60, "pager", "resolved", ("CheckDown/home/resolved",)),
            (60, "oncall-webhook", "resolved", ("CheckDown/home/resolved",)),
        ],
        id="resolve-waits-group-interval",
    ),
    pytest.param(
        [(0, HOME), (30, resolved(HOME)), (40, HOME)],
        HOUR,
        [
            (0, "pager", "firing", ("CheckDown/home/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
        ],
        id="fires-again-before-resolve-went-out-no-news",
    ),
    pytest.param([(0, SLOW), (5, resolved(SLOW))], HOUR, [], id="blip-inside-group-wait-silent"),
    pytest.param(
        [(0, SLOW), (20, HOME)],
        2 * 60,
        [
            (10, "slack", "firing", ("LatencyHigh/home/firing",)),
            (20, "pager", "firing", ("CheckDown/home/firing",)),
            (20, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
        ],
        id="page-not-delayed-by-earlier-slo-notice",
    ),
    pytest.param(
        [(0, HOME), (0, SLOW), (100, resolved(HOME))],
        4 * 60,
        [
            (0, "pager", "firing", ("CheckDown/home/firing",)),
            (0, "oncall-webhook", "firing", ("CheckDown/home/firing",)),
            (100, "pager", "resolved", ("CheckDown/home/resolved",)),
            (100, "oncall-webhook", "resolved", ("CheckDown/home/resolved",)),
            (100, "slack", "firing", ("LatencyHigh/home/firing",)),
        ],
        id="outage-inhibits-slo-alert-until-it-ends",
    ),
]


@pytest.mark.parametrize(("events", "until", "expected"), DISPATCH)
def test_dispatch(events: list[tuple[float, Alert]], until: float, expected: list[Sent]) -> None:
    assert drive(events, until) == expected


def test_thirty_checks_down_together_page_once_then_one_followup() -> None:
    config = section().copy()
    config["route"] = {**config["route"], "group_by": ["service"]}
    checks = [alert(check=f"c{i:02}", service="portal") for i in range(30)]
    events = [(float(i), a) for i, a in enumerate(checks)]
    sent = drive(events, 5 * 60, config=parse_alerting(config, ENV))
    pager = [(t, len(names)) for t, receiver, _, names in sent if receiver == "pager"]
    assert pager == [(0, 1), (60, 30)]


# --- inhibition and silences ----------------------------------------------------------

NXDOMAIN = alert(
    "DnsMismatch", check="www-dns", reason="dns_nxdomain", host="www.example.com", check_type="dns"
)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (alert(host="www.example.com", check_type="http"), []),
        (alert("CertExpiring", host="www.example.com", check_type="tls"), []),
        (alert(check="api", host="api.example.com", check_type="http"), ["CheckDown/api"]),
        (alert(check="mx", host="www.example.com", check_type="dns"), ["CheckDown/mx"]),
    ],
    ids=["http-same-host", "tls-same-host", "other-host", "not-http-or-tls"],
)
def test_nxdomain_inhibits_http_and_tls_of_the_host(target: Alert, expected: list[str]) -> None:
    sent = drive([(0, NXDOMAIN), (0, target)], 60)
    pages = {n.split("/firing")[0] for _, r, _, names in sent if r == "pager" for n in names}
    assert pages - {"DnsMismatch/www-dns"} == set(expected)


def test_silence_mutes_then_still_firing_alert_is_news_when_it_ends() -> None:
    d = Dispatcher(ISSUE)
    d.silences.add(
        Silence(Matchers({"check": "home"}), starts_at=0, ends_at=HOUR, comment="deploy")
    )
    sent = drive([(0, HOME), (0, API)], 2 * HOUR, dispatcher=d)
    assert [(t, r, names[0]) for t, r, _, names in sent if r == "pager"] == [
        (0, "pager", "CheckDown/api/firing"),
        (HOUR, "pager", "CheckDown/home/firing"),
    ]


def test_resolve_of_a_notified_alert_goes_out_even_when_silenced() -> None:
    d = Dispatcher(ISSUE)
    d.silences.add(Silence(Matchers({"check": "home"}), starts_at=10, ends_at=HOUR))
    sent = drive([(0, HOME), (100, resolved(HOME))], 2 * HOUR, dispatcher=d)
    assert [(t, s) for t, r, s, _ in sent if r == "pager"] == [(0, "firing"), (100, "resolved")]


SATURDAY_3AM = datetime(2025, 3, 1, 3, 0, tzinfo=UTC).timestamp()
WINDOW = """
  silences:
    - matchers: {check: home}
      weekly: {days: [sat], start: "02:00", end: "04:00"}
      timezone: UTC
"""


def test_maintenance_window_mutes_its_check_only() -> None:
    config = parse_alerting(section(ISSUE_YAML + WINDOW), ENV)
    events = [(SATURDAY_3AM, HOME), (SATURDAY_3AM, API)]
    d = Dispatcher(config)
    sent = drive(events, SATURDAY_3AM + 2 * HOUR, dispatcher=d)
    pages = [(t - SATURDAY_3AM, names[0]) for t, r, _, names in sent if r == "pager"]
    assert pages == [(0, "CheckDown/api/firing"), (HOUR, "CheckDown/home/firing")]


def test_next_deadline() -> None:
    d = Dispatcher(ISSUE)
    assert d.next_deadline(0) is None
    d.push(SLOW, 0)
    assert d.next_deadline(0) == 10
    assert d.flush(5) == []
    assert len(d.flush(10)) == 1
    assert d.next_deadline(10) == 10 + 4 * HOUR


# --- restart ----------------------------------------------------------------------------


def test_restart_mid_incident_no_second_page_and_resolve_still_sent() -> None:
    d = Dispatcher(ISSUE)
    assert len(drive([(0, HOME)], 60, dispatcher=d)) == 2
    saved = json.loads(json.dumps(d.export_state()))
    after = Dispatcher(ISSUE)
    after.load_state(saved, now=500)
    # the collector re-pushes what the evaluator still has firing: no news
    sent = drive([(500, HOME), (900, resolved(HOME))], 2 * HOUR, dispatcher=after)
    assert sent == [
        (900, "pager", "resolved", ("CheckDown/home/resolved",)),
        (900, "oncall-webhook", "resolved", ("CheckDown/home/resolved",)),
    ]
    # without the saved state the same events would page again
    assert len(drive([(500, HOME)], 600)) == 2


def test_reconfigure_regroups_alerts_of_a_removed_route() -> None:
    d = Dispatcher(ISSUE)
    drive([(0, SLOW)], 60, dispatcher=d)
    only_root = parse_alerting(
        {"route": {"receivers": ["oncall-webhook"]}, "receivers": section()["receivers"]}, ENV
    )
    d.reconfigure(only_root, now=100)
    sent = drive([], 200, dispatcher=d)
    assert [(t, r) for t, r, _, _ in sent] == [(110, "oncall-webhook")]


# --- the route tree -----------------------------------------------------------------------

CONTINUE_YAML = """
alerting:
  route:
    receivers: [root]
    routes:
      - match: {team: db}
        receivers: [dba]
        continue: true
      - match: {severity: critical}
        receivers: [pager]
      - match_re: {service: "portal|api"}
        receivers: [web]
        routes:
          - match: {region: eu-west}
            receivers: [web-eu]
  receivers:
    - {name: root, type: webhook, url: "http://127.0.0.1:1/root"}
    - {name: dba, type: webhook, url: "http://127.0.0.1:1/dba"}
    - {name: pager, type: webhook, url: "http://127.0.0.1:1/pager"}
    - {name: web, type: webhook, url: "http://127.0.0.1:1/web"}
    - {name: web-eu, type: webhook, url: "http://127.0.0.1:1/web-eu"}
"""


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"team": "db", "severity": "critical"}, [("dba",), ("pager",)]),
        ({"team": "db", "severity": "warning", "service": "api"}, [("dba",), ("web",)]),
        ({"team": "web", "severity": "critical", "service": "api"}, [("pager",)]),
        ({"severity": "warning", "service": "portal", "region": "eu-west"}, [("web-eu",)]),
        ({"severity": "warning", "service": "portals"}, [("root",)]),
    ],
    ids=[
        "continue-then-match",
        "continue-then-regex",
        "first-match-wins",
        "nested",
        "no-match-root",
    ],
)
def test_route_tree(labels: dict[str, str], receivers: list[tuple[str, ...]]) -> None:
    router = Router(parse_alerting(section(CONTINUE_YAML)).route)
    matches = router.route(Alert(labels, {}, AlertState.FIRING, 0.0))
    assert [m.receivers for m in matches] == receivers


def test_group_key_is_route_and_group_values() -> None:
    [pager] = Router(ISSUE.route).route(HOME)
    assert pager.route_id == "route.routes[0]"
    assert pager.group_key == 'route.routes[0]:{check="home"}'
    assert dict(pager.group_labels) == {"check": "home"}


# --- config ----------------------------------------------------------------------------------


def test_issue_config_parses_with_documented_defaults() -> None:
    critical, warning = ISSUE.route.routes
    assert ISSUE.route.receivers == ("oncall-webhook",)
    assert (critical.receivers, critical.group_wait, critical.group_by) == (
        ("pager", "oncall-webhook"),
        0.0,
        ("check",),
    )
    assert (warning.wait_for("warning"), warning.wait_for("critical")) == (10.0, 0.0)
    assert (warning.group_interval, warning.repeat_interval) == (60.0, 4 * HOUR)
    pager = ISSUE.receiver("pager")
    assert pager is not None
    assert pager.settings == {"routing_key": "pd-key"}
    mail = ISSUE.receiver("mail")
    assert mail is not None
    assert mail.settings["smtp"] == {"host": "127.0.0.1", "port": 2525}
    assert len(ISSUE.inhibit_rules) == 2


def test_without_env_placeholders_stay_as_written() -> None:
    pager = parse_alerting(section()).receiver("pager")
    assert pager is not None
    assert pager.settings["routing_key"] == "${env:PD_ROUTING_KEY}"


def test_empty_section_routes_nowhere() -> None:
    config = parse_alerting({})
    assert config.route.receivers == ()
    assert Dispatcher(config).flush(0) == []


def test_inhibit_rules_extend_or_replace_defaults() -> None:
    rule = {
        "source_match": {"alertname": "A"},
        "target_match": {"alertname": "B"},
        "equal": ["check"],
    }
    data = section() | {"inhibit_rules": [rule]}
    assert len(parse_alerting(data, ENV).inhibit_rules) == 3
    data |= {"default_inhibit_rules": False}
    [only] = parse_alerting(data, ENV).inhibit_rules
    assert only.equal == ("check",)


RECEIVERS = [{"name": "pager", "type": "webhook", "url": "http://127.0.0.1:1/"}]


def route(**child: Any) -> dict[str, Any]:
    """A section with one child route."""
    return {"route": {"receivers": ["pager"], "routes": [child]}, "receivers": RECEIVERS}


def window(**fields: Any) -> dict[str, Any]:
    """A section with one maintenance window."""
    body = {
        "matchers": {"check": "home"},
        "weekly": {"days": ["sat"], "start": "02:00", "end": "04:00"},
    }
    return {"silences": [body | fields]}


ERRORS = [
    pytest.param(
        route(match=["severity"]),
        "alerting: field 'route.routes.0.match': expected a mapping of label: value, got list",
        id="match-not-a-mapping",
    ),
    pytest.param(
        route(match={"severity": ["critical"]}),
        "alerting: field 'route.routes.0.match.severity': expected a string, got list",
        id="match-value-not-a-string",
    ),
    pytest.param(
        route(match_re={"service": "("}),
        "alerting: field 'route.routes.0.match_re.service': bad regex '(': "
        "missing ), unterminated subpattern at position 0",
        id="bad-regex",
    ),
    pytest.param(
        route(receivers=["pagr"]),
        "alerting: field 'route.routes.0.receivers': "
        "unknown receiver 'pagr' (did you mean 'pager'?)",
        id="unknown-receiver",
    ),
    pytest.param(
        route(group_wait="10"),
        "alerting: field 'route.routes.0.group_wait': bad duration '10': "
        "write a number with ms, s, m, h or d, e.g. 30s, 7d or 1h30m",
        id="duration-without-unit",
    ),
    pytest.param(
        route(repeat_interval=10),
        "alerting: field 'route.routes.0.repeat_interval': bad duration 10: add a unit, e.g. 10s",
        id="duration-number",
    ),
    pytest.param(
        route(recievers=["pager"]),
        "alerting: unknown key 'recievers' (did you mean 'receivers'?)",
        id="misspelt-key",
    ),
    pytest.param(
        route(**{"continue": "yes"}),
        "alerting: field 'route.routes.0.continue': expected true or false, got string",
        id="continue-not-bool",
    ),
    pytest.param(
        {"route": {"receivers": ["pager"], "match": {"a": "b"}}, "receivers": RECEIVERS},
        "alerting: field 'route': the root route matches every alert: put match in a child route",
        id="match-on-root",
    ),
    pytest.param(
        {"route": {"group_by": ["check"]}},
        "alerting: field 'route': list at least one receiver in 'receivers' for unmatched alerts",
        id="root-without-receivers",
    ),
    pytest.param(
        {"receivers": [{"name": "p", "type": "pager-duty", "routing_key": "k"}]},
        "receiver 'p': field 'type': "
        "'pager-duty' is not one of webhook, slack, email, pagerduty, alertmanager, sms (did you mean 'pagerduty'?)",
        id="unknown-receiver-type",
    ),
    pytest.param(
        {"receivers": [{"name": "p", "type": "pagerduty"}]},
        "receiver 'p': field 'routing_key': Field required",
        id="receiver-missing-setting",
    ),
    pytest.param(
        {"receivers": [*RECEIVERS, *RECEIVERS]},
        "receiver 'pager': field 'name': receiver 'pager' is defined twice",
        id="duplicate-receiver",
    ),
    pytest.param(
        {"receivers": [{"type": "webhook", "url": "x"}]},
        "receiver #0: field 'name': required: give the receiver a name",
        id="receiver-without-name",
    ),
    pytest.param(
        {"receivers": [{"name": "p", "type": "slack", "url": "${env:NOPE}"}]},
        "receiver 'p': field 'url': environment variable NOPE is not set",
        id="missing-env",
    ),
    pytest.param(
        {"inhibit_rules": [{"target_match": {"alertname": "X"}}]},
        "alerting: field 'inhibit_rules.0': "
        "give source_match(_re) and target_match(_re): empty would match all",
        id="inhibit-without-source",
    ),
    pytest.param(
        window(weekly={"days": ["sab"], "start": "02:00", "end": "04:00"}),
        "alerting: field 'silences.0.weekly.days.0': unknown day 'sab': "
        "use mon, tue, wed, thu, fri, sat, sun",
        id="window-bad-day",
    ),
    pytest.param(
        window(weekly={"start": "2am", "end": "04:00"}),
        "alerting: field 'silences.0.weekly.start': expected a time like \"02:00\", got '2am'",
        id="window-bad-time",
    ),
    pytest.param(
        window(timezone="Mars/Olympus"),
        "alerting: field 'silences.0.timezone': unknown time zone 'Mars/Olympus': "
        "use an IANA name like Europe/Berlin",
        id="window-bad-timezone",
    ),
    pytest.param(
        window(matchers={}),
        "alerting: field 'silences.0': give matchers: a window without matchers mutes every alert",
        id="window-without-matchers",
    ),
    pytest.param(
        {"rout": {}},
        "alerting: unknown key 'rout' (did you mean 'route'?)",
        id="unknown-top-key",
    ),
]


@pytest.mark.parametrize(("data", "message"), ERRORS)
def test_config_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_alerting(data, {})
    assert caught.value.problems == [f"<alerting>: {message}"]


def test_config_reports_every_mistake() -> None:
    data = route(match=["x"], group_wait="soon", receivers=["nobody"])
    with pytest.raises(ConfigError) as caught:
        parse_alerting(data)
    assert len(caught.value.problems) == 3
    assert str(caught.value).count("field 'route.routes.0.") == 3


# --- evaluator and dispatcher together ---------------------------------------------------------


def test_outage_end_to_end_one_page_one_resolve_across_a_restart() -> None:
    check = CheckPolicy(
        name="home",
        check_type="http",
        interval=60.0,
        regions=("eu-west", "us-east", "ap-south"),
        labels={"severity": "critical", "service": "portal"},
    )

    def results(at: float, ok: bool) -> list[Sample]:
        return [
            Sample(check="home", region=r, agent_id=f"a-{r}", at=at, duration=0.1, success=ok,
                   reason=FailureReason.NONE if ok else FailureReason.HTTP_STATUS,
                   message="" if ok else "503")
            for r in check.regions
        ]  # fmt: skip

    ev, d = Evaluator([check], now=0.0), Dispatcher(ISSUE)
    sent: list[tuple[float, str, str]] = []

    def feed(at: float, ok: bool) -> None:
        for obs in results(at, ok):
            for a in ev.observe(obs, at):
                d.push(a, at)
        for a in ev.tick(at):
            d.push(a, at)
        sent.extend((at, n.receiver, str(n.state)) for n in d.flush(at))

    for t in (0, 60, 120, 180, 190, 240, 300):  # fails from 180 on; confirmed at 190
        feed(t, t < 180)
    saved = json.dumps([ev.export_state(), d.export_state()])
    ev, d = Evaluator([check], now=400.0), Dispatcher(ISSUE)
    ev_state, d_state = json.loads(saved)
    ev.load_state(ev_state, 400.0)
    d.load_state(d_state, 400.0)
    for a in ev.active_alerts():  # what the collector does after a restore
        d.push(a, 400.0)
    for t in (420, 480, 540, 550, 600):  # recovers from 540 on
        feed(t, t >= 540)
    assert sent == [
        (190, "pager", "firing"),
        (190, "oncall-webhook", "firing"),
        (550, "pager", "resolved"),
        (550, "oncall-webhook", "resolved"),
    ]
