"""Evaluator tests: a series of results in, alert transitions out.

Each case is a table row: the check's policy, a series of steps (results and
ticks, each with its time), and the transitions expected as
(time, alertname, state). Nothing sleeps: time is data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from collector.alerting.evaluator import CheckPolicy, Evaluator
from collector.alerting.lifecycle import Lifecycle
from collector.alerting.model import Alert, AlertState
from collector.alerting.policies import policies
from collector.alerting.slo import SloPolicy
from collector.model import Sample
from collector.stats.window import p95
from common.config import parse_config
from common.reasons import FailureReason
from tests.support.samples import sample

EU, US, AP = "eu-west", "us-east", "ap-south"
REGIONS = (EU, US, AP)
DAY = 86400.0


@dataclass(frozen=True)
class Tick:
    """Time passes: the collector calls `tick`."""

    at: float


Step = Sample | Tick


def policy(**overrides: Any) -> CheckPolicy:
    """The `home` check of the issue: 60s interval, 3 regions, majority."""
    base: dict[str, Any] = {
        "name": "home",
        "check_type": "http",
        "interval": 60.0,
        "regions": REGIONS,
        "labels": {"severity": "critical", "service": "portal"},
        "host": "www.example.com",
    }
    return CheckPolicy(**(base | overrides))


def result(at: float, region: str, ok: bool, **fields: Any) -> Sample:
    """One result of `home` from `agent-REGION`, with a request id; failures
    default to a refused connection. `fields` as `samples.sample` takes
    them, with `reason` by name."""
    failure = {} if ok else {"reason": "connect_refused", "message": "connection refused"}
    base = {"check": "home", "agent_id": f"agent-{region}", "request_id": f"req-{region}-{at:g}"}
    merged = base | failure | fields
    reason = FailureReason(merged.pop("reason", "none"))
    return sample(merged.pop("check"), region, at, ok, reason=reason, **merged)


def fail(at: float, *regions: str, **fields: Any) -> list[Step]:
    """A failing result from each region at `at`."""
    return [result(at, r, False, **fields) for r in regions or REGIONS]


def ok(at: float, *regions: str, **fields: Any) -> list[Step]:
    """A successful result from each region at `at`."""
    return [result(at, r, True, **fields) for r in regions or REGIONS]


def every(start: float, stop: float, step: float, make: Any, *regions: str) -> list[Step]:
    """`make(t, *regions)` for t in [start, stop) by step."""
    out: list[Step] = []
    t = start
    while t < stop:
        out += make(t, *regions)
        t += step
    return out


def run(
    series: list[Step], pol: CheckPolicy | None = None, evaluator: Evaluator | None = None
) -> list[Alert]:
    """Feed the series; return every alert event, in order."""
    ev = evaluator or Evaluator([pol or policy()], now=0.0)
    alerts: list[Alert] = []
    for step in series:
        if isinstance(step, Tick):
            alerts += ev.tick(step.at)
        else:
            alerts += ev.observe(step, step.at)
    return alerts


def transitions(alerts: list[Alert]) -> list[tuple[float, str, str]]:
    """(time, alertname, state): when it started or ended, what, which way."""
    return [
        (a.ends_at if a.ends_at is not None else a.starts_at, a.name, str(a.state)) for a in alerts
    ]


def when(alerts: list[Alert]) -> list[tuple[str, str]]:
    """(alertname, state) only, for cases where the exact time is not the point."""
    return [(a.name, str(a.state)) for a in alerts]


# --- outage, hysteresis, quorum ---------------------------------------------

OUTAGES = [
    pytest.param(
        policy(), [*fail(0), *fail(10)], [("CheckDown", "firing")], id="two-failures-one-page"
    ),
    pytest.param(
        policy(),
        [*fail(0), *fail(10), *fail(60), *fail(70), *ok(120), *ok(130), *ok(180)],
        [("CheckDown", "firing"), ("CheckDown", "resolved")],
        id="down-then-recovered-once",
    ),
    pytest.param(policy(), [*fail(0), *ok(10), *fail(60), *ok(70)], [], id="flapping-nothing"),
    pytest.param(
        policy(),
        [*fail(0), *fail(10), *ok(60), *fail(120), *ok(180), *fail(240)],
        [("CheckDown", "firing")],
        id="one-success-mid-outage-does-not-resolve",
    ),
    pytest.param(
        policy(), [*fail(0, EU), *fail(10, EU), *fail(60, EU)], [], id="one-sick-region-no-page"
    ),
    pytest.param(
        policy(regions=(EU,), quorum=1),
        [*fail(0), *fail(10)],
        [("CheckDown", "firing")],
        id="single-region-quorum-1",
    ),
    pytest.param(
        policy(quorum="all"), [*fail(0, EU, US), *fail(10, EU, US)], [], id="quorum-all-needs-all"
    ),
    pytest.param(
        policy(quorum=1),
        [*fail(0, EU), *fail(10, EU)],
        [("CheckDown", "firing")],
        id="quorum-1-one-region-enough",
    ),
    pytest.param(
        policy(failure_threshold=3),
        [*fail(0), *fail(10)],
        [],
        id="failure-threshold-3-not-yet",
    ),
    pytest.param(
        policy(),
        [*ok(0), *fail(0, EU, US, reason="tls_expiring"), *fail(10, EU, US, reason="tls_expiring")],
        [],
        id="tls-expiring-is-not-down",
    ),
]


@pytest.mark.parametrize(("pol", "series", "expected"), OUTAGES)
def test_outage(pol: CheckPolicy, series: list[Step], expected: list[tuple[str, str]]) -> None:
    assert when(run(series, pol)) == expected


def test_outage_fires_at_the_confirming_result_and_resolves_on_recovery() -> None:
    alerts = run([*fail(0), *fail(10), *ok(60), *ok(70)])
    assert transitions(alerts) == [(0, "CheckDown", "firing"), (70, "CheckDown", "resolved")]
    assert alerts[0].labels["severity"] == "critical"
    assert alerts[0].fingerprint == alerts[1].fingerprint


def test_outage_text_names_regions_reason_and_request_id() -> None:
    series = [*fail(0, EU, US), *fail(10, EU, US), *ok(0, AP)]
    [alert] = run(series)
    notes = alert.annotations
    assert notes["summary"] == "home down in eu-west, us-east: connect_refused (connection refused)"
    assert notes["first_request_id"] == "req-eu-west-0"
    assert notes["regions"] == "eu-west, us-east"
    incident: Any = alert.details["incident"]
    assert incident["regions"][US]["reason"] == "connect_refused"
    assert incident["started_at"] == 0
    assert alert.labels["service"] == "portal"
    assert alert.labels["host"] == "www.example.com"


def test_outage_with_mixed_causes_names_each() -> None:
    series = [*fail(0, EU), *fail(10, EU), *fail(0, US, reason="timeout", message="read timed out")]
    series += fail(10, US, reason="timeout", message="read timed out")
    [alert] = run(series)
    assert alert.annotations["summary"] == (
        "home down in eu-west: connect_refused (connection refused); us-east: timeout (read timed out)"
    )


# --- stale regions -----------------------------------------------------------

STALE = [
    pytest.param(
        # ap-south goes silent; with quorum `all`, the two live regions are all.
        policy(quorum="all"),
        [*ok(0), *ok(100, EU, US), Tick(200), *fail(200, EU, US), *fail(210, EU, US)],
        [(200, "AgentDown", "firing"), (200, "CheckDown", "firing")],
        id="quorum-with-one-stale-region",
    ),
    pytest.param(
        # 4 regions, one silent: 2 of the 3 live ones are a majority.
        policy(regions=(*REGIONS, "sa-east")),
        [*ok(0, *REGIONS, "sa-east"), *ok(100), Tick(200), *fail(200, EU, US), *fail(210, EU, US)],
        [(200, "AgentDown", "firing"), (200, "CheckDown", "firing")],
        id="majority-of-live-regions",
    ),
    pytest.param(
        policy(),
        [*ok(0), *ok(100, EU, US), Tick(200), *fail(200, EU), *fail(210, EU), *ok(210, US)],
        [(200, "AgentDown", "firing")],
        id="stale-region-does-not-vote-down",
    ),
    pytest.param(
        policy(),
        [*ok(0), Tick(100), Tick(200), Tick(300)],
        [*[(200, "AgentDown", "firing")] * 3, (200, "MonitoringBlind", "firing")],
        id="all-regions-stale-no-checkdown",
    ),
    pytest.param(
        policy(),
        [*ok(0), *ok(100, EU, US), Tick(200), *ok(205, AP), Tick(210)],
        [(200, "AgentDown", "firing"), (210, "AgentDown", "resolved")],
        id="agent-back-resolves",
    ),
    pytest.param(
        # Silence never ends an outage: the down regions go quiet, ap-south
        # is fine, yet the incident stays open until they report recovery.
        policy(),
        [*fail(0), *fail(10), *ok(60, AP), *ok(120, AP), *ok(180, AP), Tick(200)],
        [(0, "CheckDown", "firing"), (200, "AgentDown", "firing"), (200, "AgentDown", "firing")],
        id="silence-does-not-resolve-an-outage",
    ),
]


@pytest.mark.parametrize(("pol", "series", "expected"), STALE)
def test_stale(
    pol: CheckPolicy, series: list[Step], expected: list[tuple[float, str, str]]
) -> None:
    assert transitions(run(series, pol)) == expected


def test_agent_down_names_agent_and_region_once_for_many_checks() -> None:
    other = policy(name="api")
    ev = Evaluator([policy(), other], now=0.0)
    for check in ("home", "api"):
        for region in REGIONS:
            ev.observe(result(0, region, True, check=check), 0)
            if region != AP:
                ev.observe(result(150, region, True, check=check), 150)
    [alert] = ev.tick(200)
    assert dict(alert.labels) == {
        "alertname": "AgentDown",
        "agent": "agent-ap-south",
        "region": AP,
        "severity": "warning",
    }
    assert "api, home" in alert.annotations["description"]
    assert alert.annotations["checks"] == "api, home"


def test_all_regions_stale_says_the_problem_is_ours() -> None:
    *agents, blind = run([*ok(0), Tick(200)])
    assert {a.labels["region"] for a in agents} == set(REGIONS)
    assert dict(blind.labels) == {"alertname": "MonitoringBlind", "severity": "critical"}
    assert blind.annotations["checks"] == "home"
    assert "the problem is ours" in blind.annotations["description"]


def test_never_seen_region_is_stale_after_the_limit_from_start() -> None:
    alerts = run([*ok(0, EU, US), *ok(100, EU, US), Tick(150), Tick(151)])
    assert [(a.labels["agent"], a.labels["region"]) for a in alerts] == [("unknown", AP)]


# --- SLO ---------------------------------------------------------------------

HEALTHY = every(0, 300, 60, ok)  # 15 results in 5 minutes


def slow(seconds: float) -> Any:
    """A result maker with a fixed duration."""
    return lambda t, *r: ok(t, *r, duration=seconds)


SLO = [
    pytest.param(
        [*every(0, 300, 60, slow(0.9)), Tick(300)],
        [(300, "LatencyHigh", "firing")],
        "critical",
        id="slow-is-not-down",
    ),
    pytest.param(
        [*every(0, 300, 60, slow(0.6)), Tick(300)],
        [(300, "LatencyHigh", "firing")],
        "warning",
        id="p95-warning",
    ),
    pytest.param([*HEALTHY, Tick(300)], [], None, id="fast-no-alert"),
    pytest.param(
        [*every(0, 300, 60, slow(0.6)), Tick(300), *every(300, 600, 60, slow(0.9)), Tick(600)],
        [
            (300, "LatencyHigh", "firing"),
            (600, "LatencyHigh", "resolved"),
            (600, "LatencyHigh", "firing"),
        ],
        "critical",
        id="warning-escalates-to-critical",
    ),
    pytest.param(
        [*every(0, 300, 60, slow(0.9)), Tick(300), *every(300, 600, 60, ok), Tick(600)],
        [(300, "LatencyHigh", "firing"), (600, "LatencyHigh", "resolved")],
        None,
        id="back-within-budget",
    ),
    pytest.param(
        # one blip in eu-west, fine on retry: 1 of 16 results, over 1%
        [*HEALTHY, *fail(250, EU), *ok(260, EU), Tick(300), Tick(360)],
        [(360, "ErrorRatioHigh", "firing")],
        "warning",
        id="partial-failure-error-ratio-once-settled",
    ),
    pytest.param(
        [
            *HEALTHY,
            *fail(300),
            *fail(310),
            Tick(320),
            *fail(360),
            *fail(370),
            Tick(400),
            *ok(420),
            *ok(430),
            Tick(440),
            *every(480, 700, 60, ok),
            Tick(500),
            Tick(600),
            Tick(700),
        ],
        [(300, "CheckDown", "firing"), (430, "CheckDown", "resolved")],
        None,
        id="outage-failures-never-count-as-error-ratio",
    ),
    pytest.param(
        # eu-west goes down first (no quorum yet); us-east confirms 40s later.
        [
            *HEALTHY,
            *fail(300, EU),
            *fail(310, EU),
            Tick(320),
            *fail(340, US),
            *fail(350, US),
            *fail(360, EU, US),
            *ok(360, AP),
            Tick(400),
            Tick(450),
            Tick(500),
        ],
        [(300, "CheckDown", "firing")],
        None,
        id="staggered-outage-pages-once",
    ),
]


@pytest.mark.parametrize(("series", "expected", "severity"), SLO)
def test_slo(
    series: list[Step], expected: list[tuple[float, str, str]], severity: str | None
) -> None:
    alerts = run(series)
    assert transitions(alerts) == expected
    if severity:
        assert alerts[-1].labels["severity"] == severity


def test_slo_text_names_the_figures() -> None:
    [alert] = run([*every(0, 300, 60, slow(0.9)), Tick(300)])
    assert alert.annotations["summary"] == "home p95 latency 900ms over 800ms in the last 5m"


def test_too_few_results_say_nothing() -> None:
    # 1 failure in 3 results is 33%, but 3 results are too few to judge
    assert (
        run([*fail(0, EU), *ok(0, US, AP), Tick(120)], policy(slo=SloPolicy(min_samples=5))) == []
    )
    assert when(
        run([*fail(0, EU), *ok(0, US, AP), Tick(120)], policy(slo=SloPolicy(min_samples=3)))
    ) == [("ErrorRatioHigh", "firing")]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.1], 0.1),
        ([0.1, 0.2], 0.2),
        ([float(i) for i in range(1, 21)], 19.0),
        ([3.0, 1.0, 2.0], 3.0),
    ],
    ids=["one", "two", "twenty", "unsorted"],
)
def test_p95_is_exact_nearest_rank(values: list[float], expected: float) -> None:
    assert p95(values) == expected


# --- certificates --------------------------------------------------------------


def cert(at: float, serial: str, days_left: float, region: str = EU) -> Sample:
    """A result carrying certificate facts."""
    return result(at, region, True, cert_serial=serial, cert_not_after=at + days_left * DAY)


CERTS = [
    pytest.param(
        [cert(0, "A", 10), cert(DAY, "A", 9), cert(2 * DAY, "A", 8, US)],
        [(0, "CertExpiring", "firing", "warning")],
        id="one-notice-per-serial-not-daily",
    ),
    pytest.param(
        [cert(0, "A", 10), cert(4 * DAY, "A", 6), cert(5 * DAY, "A", 5)],
        [(0, "CertExpiring", "firing", "warning"), (4 * DAY, "CertExpiring", "firing", "critical")],
        id="escalates-once-to-critical",
    ),
    pytest.param(
        [cert(0, "A", 10), cert(60, "B", 90), cert(120, "A", 10, US), cert(DAY, "B", 89)],
        [(0, "CertExpiring", "firing", "warning"), (60, "CertExpiring", "resolved", "warning")],
        id="renewal-resolves-and-old-serial-stays-quiet",
    ),
    pytest.param(
        [cert(0, "A", -2)], [(0, "CertExpiring", "firing", "critical")], id="expired-is-critical"
    ),
    pytest.param([cert(0, "A", 60), cert(DAY, "A", 59)], [], id="healthy-certificate-quiet"),
    pytest.param(
        [cert(0, "A", 10), cert(60, "B", 12)],
        [
            (0, "CertExpiring", "firing", "warning"),
            (60, "CertExpiring", "resolved", "warning"),
            (60, "CertExpiring", "firing", "warning"),
        ],
        id="renewed-but-new-one-expiring-too",
    ),
]


@pytest.mark.parametrize(("series", "expected"), CERTS)
def test_certificates(series: list[Step], expected: list[tuple[float, str, str, str]]) -> None:
    alerts = run(series)
    got = [(*t, a.labels["severity"]) for t, a in zip(transitions(alerts), alerts, strict=True)]
    assert got == expected
    assert all(not a.repeat for a in alerts)


def tls_policy(cert_expiry: str) -> CheckPolicy:
    """The `home` check as the collector builds it from a config file."""
    text = "checks:\n  - name: home\n    type: tls\n    target: 127.0.0.1:443\n" + (
        f"    cert_expiry: {cert_expiry}\n" if cert_expiry else ""
    )
    (probed,), _ = policies(parse_config(text, "checks.yaml"))
    return probed


@pytest.mark.parametrize(
    ("cert_expiry", "days_left", "expected"),
    [
        ("", 15, []),
        ("", 13, ["warning"]),
        ("", 6, ["critical"]),
        ("{warning_days: 30, critical_days: 10}", 29, ["warning"]),
        ("{warning_days: 30, critical_days: 10}", 9, ["critical"]),
        ("{warning_days: 5, critical_days: 2}", 13, []),
        ("{warning_days: 5, critical_days: 2}", 4, ["warning"]),
        ("{critical_days: 1}", 6, ["warning"]),
    ],
    ids=[
        "default-quiet-at-15-days",
        "default-warning-at-13",
        "default-critical-at-6",
        "wider-warning-at-29",
        "wider-critical-at-9",
        "narrower-quiet-at-13",
        "narrower-warning-at-4",
        "critical-only-set-keeps-default-warning",
    ],
)
def test_cert_expiry_thresholds_come_from_the_config(
    cert_expiry: str, days_left: float, expected: list[str]
) -> None:
    alerts = run([cert(DAY, "A", days_left)], tls_policy(cert_expiry))
    assert [(a.name, a.labels["severity"]) for a in alerts] == [
        ("CertExpiring", level) for level in expected
    ]


def test_certificate_renewal_resolve_says_renewed() -> None:
    firing, resolved = run([cert(0, "A", 10), cert(60, "B", 90)])
    assert firing.labels["serial"] == "A"
    assert firing.annotations["summary"] == "home TLS certificate expires in 10 days (serial A)"
    assert dict(resolved.labels) == dict(firing.labels)
    assert resolved.annotations["resolution"] == "certificate renewed"
    assert resolved.annotations["summary"].startswith("home TLS certificate renewed: serial B")


# --- DNS and email-auth findings --------------------------------------------------

FINDINGS = [
    pytest.param(
        "dns",
        {"reason": "dns_nxdomain", "message": "NXDOMAIN for www.example.com"},
        "DnsMismatch",
        "home DNS answers wrong in eu-west, us-east: dns_nxdomain (NXDOMAIN for www.example.com)",
        id="dns-nxdomain",
    ),
    pytest.param(
        "dns",
        {"reason": "assertion", "failed_assertions": ("A: expected 192.0.2.1, got 198.51.100.7",)},
        "DnsMismatch",
        "home DNS answers wrong in eu-west, us-east: "
        "assertion (A: expected 192.0.2.1, got 198.51.100.7)",
        id="dns-wrong-answer",
    ),
    pytest.param(
        "dns",
        {"reason": "dns_timeout", "message": "no answer from 192.0.2.53"},
        "CheckDown",
        "home down in eu-west, us-east: dns_timeout (no answer from 192.0.2.53)",
        id="dns-server-dead-is-checkdown",
    ),
    pytest.param(
        "email_auth",
        {"reason": "assertion", "failed_assertions": ("DMARC: no record at _dmarc.example.com",)},
        "EmailAuthFailing",
        "home email authentication failing in eu-west, us-east: "
        "assertion (DMARC: no record at _dmarc.example.com)",
        id="email-auth",
    ),
]


@pytest.mark.parametrize(("check_type", "failure", "alertname", "summary"), FINDINGS)
def test_findings(check_type: str, failure: dict[str, Any], alertname: str, summary: str) -> None:
    [alert] = run([*fail(0, **failure), *fail(10, **failure)], policy(check_type=check_type))
    assert alert.name == alertname
    assert alert.annotations["summary"] == summary
    if alertname == "DnsMismatch":
        assert alert.labels["reason"] == failure["reason"]


# --- release attribution ----------------------------------------------------------

RELEASES = [
    pytest.param(
        [("api", "v1.4.2", -220)],
        [],
        "home down in eu-west, us-east: connect_refused (connection refused); "
        "started 3m after deploy portal v1.4.2",
        "v1.4.2",
        id="deploy-3m-before",
    ),
    pytest.param(
        [("api", "v1.4.1", -7200)],
        [],
        "home down in eu-west, us-east: connect_refused (connection refused)",
        "v1.4.1",
        id="old-deploy-not-blamed",
    ),
    pytest.param(
        [],
        [*ok(-400, release="v1"), *ok(-100, release="v2")],
        "home down in eu-west, us-east: connect_refused (connection refused); "
        "started 1m after deploy portal v2",
        "v2",
        id="release-header-change-is-a-deploy",
    ),
    pytest.param(
        [],
        [*ok(-100, release="v1")],
        "home down in eu-west, us-east: connect_refused (connection refused)",
        "v1",
        id="first-header-value-is-no-deploy",
    ),
]


@pytest.mark.parametrize(("deploys", "before", "summary", "release"), RELEASES)
def test_release_attribution(
    deploys: list[tuple[str, str, float]], before: list[Step], summary: str, release: str
) -> None:
    ev = Evaluator([policy()], now=-500.0)
    for source, version, at in deploys:
        ev.deploys.record("portal", version, at, source)
    alerts = run([*before, *fail(-40), *fail(-30)], evaluator=ev)
    [alert] = [a for a in alerts if a.name == "CheckDown"]
    assert alert.annotations["summary"] == summary
    assert alert.annotations["release"] == release
    if "started" not in summary:
        assert f"Release portal {release}." in alert.annotations["description"]


# --- config changes and restarts -----------------------------------------------------


def test_removed_check_resolves_its_alerts() -> None:
    ev = Evaluator([policy()], now=0.0)
    run([*fail(0), *fail(10)], evaluator=ev)
    [resolved] = ev.set_policies([], now=20.0)
    assert (resolved.name, resolved.state) == ("CheckDown", AlertState.RESOLVED)
    assert ev.active_alerts() == []
    # Its incident record closes too, saying why (the store keeps `details`).
    incident = resolved.details["incident"]
    assert isinstance(incident, dict)
    assert (incident["resolved_at"], incident["resolution"]) == (
        20.0,
        "the check was removed from the config",
    )


def restart(ev: Evaluator, now: float) -> Evaluator:
    """What the collector does: persist as JSON, start afresh, restore."""
    saved = json.loads(json.dumps(ev.export_state()))
    fresh = Evaluator([policy()], now=now)
    assert fresh.load_state(saved, now) == []
    return fresh


def test_restart_mid_incident_neither_pages_again_nor_forgets() -> None:
    ev = Evaluator([policy()], now=0.0)
    assert when(run([*fail(0), *fail(10)], evaluator=ev)) == [("CheckDown", "firing")]
    ev = restart(ev, now=600.0)  # the collector was down for ten minutes
    assert ev.incidents()[0]["regions"].keys() == {EU, US, AP}
    again = run([Tick(601), *fail(610), *fail(620), Tick(700), *ok(730), *ok(740)], evaluator=ev)
    assert transitions(again) == [(740, "CheckDown", "resolved")]
    assert again[0].annotations["first_request_id"] == "req-eu-west-0"


def test_restart_keeps_error_ratio_exclusions_and_cert_notices() -> None:
    ev = Evaluator([policy()], now=0.0)
    run([*HEALTHY, *fail(300), *fail(310), cert(310, "A", 10)], evaluator=ev)
    ev = restart(ev, now=320.0)
    series = [*fail(360), *ok(420), *ok(430), cert(430, "A", 10), Tick(440)]
    series += [*ok(480), Tick(500), *ok(540), *ok(600), Tick(650)]
    assert transitions(run(series, evaluator=ev)) == [(430, "CheckDown", "resolved")]


@pytest.mark.parametrize(
    ("restart_at", "expected"),
    [
        (None, [(300, "LatencyHigh", "firing"), (540, "LatencyHigh", "resolved")]),
        (310.0, [(300, "LatencyHigh", "firing"), (540, "LatencyHigh", "resolved")]),
        (500.0, [(300, "LatencyHigh", "firing"), (540, "LatencyHigh", "resolved")]),
    ],
    ids=["no-restart", "restart-just-after-firing", "restart-mid-window"],
)
def test_restart_keeps_the_slo_window_of_a_firing_slo_alert(
    restart_at: float | None, expected: list[tuple[float, str, str]]
) -> None:
    # Slow for 5 minutes, then fast: the alert resolves once the window has
    # slid past the slow results (300 s window), restart or not; a fresh
    # window would have resolved it right after the restart.
    ev = Evaluator([policy()], now=0.0)
    series: list[Step] = [*every(0, 300, 60, slow(0.9)), Tick(300)]
    series += every(300, 700, 30, lambda t, *r: [*ok(t), Tick(t)])
    out: list[Alert] = []
    for step in series:
        if restart_at is not None and step.at >= restart_at and ev.active_alerts():
            ev, restart_at = restart(ev, now=restart_at), None
        out += run([step], evaluator=ev)
    assert transitions(out) == expected


def test_a_window_is_saved_only_while_its_slo_alert_fires() -> None:
    ev = Evaluator([policy()], now=0.0)
    run([*every(0, 300, 60, slow(0.9)), Tick(300)], evaluator=ev)
    assert "slo" in ev.export_state()["checks"]["home"]
    healthy = Evaluator([policy()], now=0.0)
    run([*HEALTHY, Tick(300)], evaluator=healthy)
    assert "slo" not in healthy.export_state()["checks"]["home"]


def test_stale_state_from_another_version_is_ignored() -> None:
    ev = Evaluator([policy()], now=0.0)
    assert ev.load_state({"version": 0}, now=1.0) == []
    assert ev.export_state()["version"] == 1


# --- batches ---------------------------------------------------------------------


def test_a_batch_is_taken_as_its_results_one_by_one() -> None:
    """`observe_all` (the collector's hot path) skips work that changes
    nothing: same alerts and same state as `observe` on each result."""
    cert = {"cert_serial": "ab12", "cert_not_after": 14 * 86400.0}
    steps = [
        *ok(0, release="v1", **cert),
        *ok(60, release="v1"),
        *fail(120, "eu-west", "us-east", release="v2"),
        *fail(130, "eu-west", "us-east", release="v2", message="other"),
        *fail(140, "eu-west", release="v2"),
        *ok(200, release="v2"),
        *ok(260, release="v1"),
        *ok(320, release="v3", **cert),
        result(330, "mars", True),  # a region the check does not run in
        result(330, "eu-west", True, check="gone"),  # a check no longer configured
    ]
    one, batched = Evaluator([policy()], now=0.0), Evaluator([policy()], now=0.0)
    alerts_one: list[Alert] = []
    alerts_batched: list[Alert] = []
    for start in range(0, len(steps), 4):  # batches of 4, each at its last result's time
        batch = [s for s in steps[start : start + 4] if isinstance(s, Sample)]
        now = batch[-1].at
        for obs in batch:
            alerts_one += one.observe(obs, now)
        alerts_batched += batched.observe_all(batch, now)
    assert when(alerts_batched) == when(alerts_one)
    assert {"CheckDown", "CertExpiring"} <= {a.name for a in alerts_one}
    assert [a.to_dict() for a in alerts_batched] == [a.to_dict() for a in alerts_one]
    assert batched.export_state() == one.export_state()
    assert batched.deploys.to_dict() == one.deploys.to_dict()
    assert [v for v, *_ in batched.deploys.to_dict()["portal"]] == ["v1", "v2", "v3"]


def test_an_outage_does_not_leave_an_slo_alert_behind() -> None:
    # eu-west and us-east are down while ap-south answers slowly: the window
    # would say LatencyHigh, but it holds an outage already paged. After the
    # recovery nothing new starts until the window has slid past it.
    series: list[Step] = []
    for t in range(0, 300, 30):
        series += [*fail(t, EU, US), *ok(t, AP, duration=0.9), Tick(t)]
    for t in range(300, 900, 30):
        series += [*ok(t), Tick(t)]
    assert when(run(series)) == [("CheckDown", "firing"), ("CheckDown", "resolved")]


@pytest.mark.parametrize(
    ("labels", "resolution", "summary"),
    [
        pytest.param(
            {"alertname": "LatencyHigh", "check": "slow"},
            "p95 latency back within budget",
            "slow: p95 latency back within budget",
            id="slo-names-its-check",
        ),
        pytest.param(
            {"alertname": "HeartbeatMissed", "check": "job"},
            "job reported success at 2026-11-30 03:55:45Z",
            "job reported success at 2026-11-30 03:55:45Z",
            id="already-named",
        ),
        pytest.param(
            {"alertname": "MonitoringBlind"},
            "monitoring sees again: every check has a region reporting",
            "monitoring sees again: every check has a region reporting",
            id="no-subject",
        ),
    ],
)
def test_a_resolve_without_its_own_summary_reads_as_its_resolution(
    labels: dict[str, str], resolution: str, summary: str
) -> None:
    # The firing line ("slow p95 latency 953ms over 250ms") under a
    # [RESOLVED] tag tells on-call the problem still holds.
    life = Lifecycle()
    firing = Alert(labels, {"summary": "the firing line"}, AlertState.FIRING, 0.0)
    life.fire("k", firing)
    [resolved] = life.resolve("k", 10.0, {"resolution": resolution})
    assert resolved.annotations["summary"] == summary
