"""Notifier tests against a real HTTP server on 127.0.0.1.

`Recorder` is an aiohttp app that records every POST and answers from a
per-path script (503, 503, 200 ...), so retries, refusals and timeouts are
real HTTP exchanges. Alerts come from the evaluator's own text builders, so
payloads are checked against what the collector really sends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from collector.alerting import texts
from collector.alerting.config import parse_alerting
from collector.alerting.model import Alert, AlertState, Notification
from collector.alerting.notifiers import (
    RECEIVER_TYPES,
    AlertmanagerNotifier,
    Notifier,
    RetryPolicy,
    build_notifier,
    build_notifiers,
    render,
)
from collector.alerting.notifiers.base import (
    BaseNotifier,
    Context,
    PermanentSendError,
    TransientSendError,
    status_error,
)
from collector.alerting.policy import CheckPolicy
from collector.alerting.receivers import (
    EmailSpec,
    PagerDutySpec,
    Receiver,
    SmsSpec,
)
from collector.alerting.regions import Failure, Incident
from common import redaction
from common.config import ConfigError
from tests.support.net import free_port

T0 = 1_790_000_000.0  # 2026-09-21T...Z; any fixed time will do
FAST = RetryPolicy(attempts=4, first_wait=0.01, max_wait=0.02, total=5.0)

# --- alerts, built by the evaluator's text functions --------------------------------------------

POLICY = CheckPolicy(
    name="home",
    check_type="http",
    interval=60.0,
    regions=("eu-west", "us-east", "ap-south"),
    labels={"severity": "critical", "service": "portal"},
    runbook_url="https://runbooks.example.com/home",
)


def incident(resolved_at: float | None = None) -> Incident:
    """`home` refused in eu-west and us-east, after a deploy of v1.4.2."""
    return Incident(
        check="home",
        alertname="CheckDown",
        started_at=T0,
        confirmed_at=T0 + 10,
        regions={
            "eu-west": Failure(T0, "connect_refused", "refused", "req-eu-1", "agent-eu"),
            "us-east": Failure(T0 + 1, "connect_refused", "refused", "req-us-1", "agent-us"),
        },
        release="v1.4.2",
        attribution="started 3m after deploy portal v1.4.2",
        resolved_at=resolved_at,
    )


FIRING = texts.outage(POLICY, "www.example.com", incident())
RESOLVED = replace(
    FIRING,
    state=AlertState.RESOLVED,
    ends_at=T0 + 300,
    annotations={**FIRING.annotations, **texts.recovered(POLICY, incident(T0 + 300))},
)
SLOW = Alert(
    {"alertname": "LatencyHigh", "check": "api", "severity": "warning"},
    {"summary": "api p95 latency 620ms over 500ms in the last 5m"},
    AlertState.FIRING,
    T0,
)


def note(*alerts: Alert, receiver: str = "r") -> Notification:
    """A notification of `alerts` for `receiver`."""
    return Notification(receiver, 'route.routes[0]:{check="home"}', {"check": "home"}, alerts)


# --- a real HTTP receiver -----------------------------------------------------------------------


@dataclass
class Hit:
    """One request the recorder received."""

    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """The body as form fields."""
        return dict(urllib.parse.parse_qsl(self.body.decode()))


@dataclass
class Recorder:
    """Records every POST; answers each path from its script, else 200."""

    hits: list[Hit] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)
    """Body substring -> status: answer it whenever the body contains it."""
    delay: float = 0.0
    base: str = ""
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Close the server."""
        self._closing.set()  # ends delayed answers, so cleanup need not wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        """Record, then answer from the script."""
        body = await request.read()
        self.hits.append(Hit(request.path, dict(request.headers), body))
        if self.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.delay)
        script = self.scripts.get(request.path)
        if script:
            status = script.pop(0)
        else:
            text = body.decode(errors="replace")
            status = next((s for sub, s in self.refuse.items() if sub in text), 200)
        headers = {"Retry-After": "0"} if status == 429 else {}
        return web.Response(status=status, text=f"answer {status}", headers=headers)

    def url(self, path: str) -> str:
        """The full URL of `path`."""
        return self.base + path

    def at(self, path: str) -> list[Hit]:
        """The requests to `path`."""
        return [h for h in self.hits if h.path == path]

    async def until(self, path: str, count: int, timeout: float = 10.0) -> list[Hit]:
        """Wait until `path` has had `count` requests (the loop keeps serving)."""
        async with asyncio.timeout(timeout):
            while len(self.at(path)) < count:
                await asyncio.sleep(0.02)
        return self.at(path)


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    """A running `Recorder`."""
    rec = Recorder()
    await rec.start()
    yield rec
    await rec.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session, as the collector shares one."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry per test."""
    return CollectorRegistry()


@pytest.fixture
def counter(registry: CollectorRegistry) -> Counter:
    """`vantage_notifications_total` as the collector defines it."""
    return Counter(
        "vantage_notifications_total",
        "Notifications by receiver and outcome.",
        ["receiver", "outcome"],
        registry=registry,
    )


def outcomes(registry: CollectorRegistry, receiver: str = "r") -> dict[str, float]:
    """{success: n, failure: n} for `receiver`."""
    return {
        o: registry.get_sample_value(
            "vantage_notifications_total", {"receiver": receiver, "outcome": o}
        )
        or 0.0
        for o in ("success", "failure")
    }


def receiver(kind: str, **settings: Any) -> Receiver:
    """A receiver `r` of `kind`, parsed as the collector parses config."""
    config = parse_alerting({"receivers": [{"name": "r", "type": kind, **settings}]}, {})
    [parsed] = config.receivers
    return parsed


def sender(address: str) -> dict[str, Any]:
    """The `from` setting, which Python cannot take as a keyword."""
    return {"from": address}


def build(
    kind: str,
    session: aiohttp.ClientSession,
    counter: Counter,
    policy: RetryPolicy = FAST,
    clock: Callable[[], float] = lambda: T0 + 60,
    **settings: Any,
) -> Notifier:
    """A notifier for a receiver `r` of `kind` with fast retries."""
    return build_notifier(receiver(kind, **settings), session, counter, policy=policy, clock=clock)


# --- registry and config ------------------------------------------------------------------------


ISSUE_RECEIVERS = yaml.safe_load("""
receivers:
  - {name: oncall-webhook, type: webhook, url: "http://127.0.0.1:9999/hook"}
  - {name: pager, type: pagerduty, routing_key: "${env:PD_ROUTING_KEY}"}
  - {name: slack, type: slack, url: "${env:SLACK_WEBHOOK_URL}"}
  - {name: mail, type: email, smtp: {host: 127.0.0.1, port: 2525}, from: vantage@example.com,
     to: [oncall@example.com]}
  - {name: am, type: alertmanager, url: "http://127.0.0.1:9093"}
  - {name: sms, type: sms, url: "${env:SMS_GATEWAY_URL}", to: ["+15550100"]}
""")  # as written in issue 4
ISSUE_ENV = {
    "PD_ROUTING_KEY": "pd-key-0123456789",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.test/services/T0/B0/x",
    "SMS_GATEWAY_URL": "http://127.0.0.1:9998/send",
}


def test_the_issue_config_uses_every_receiver_type() -> None:
    # so that the test below builds one notifier of each registered type
    assert {r["type"] for r in ISSUE_RECEIVERS["receivers"]} == RECEIVER_TYPES.keys()


async def test_build_notifiers_from_the_issue_config(
    session: aiohttp.ClientSession, counter: Counter
) -> None:
    notifiers = build_notifiers(parse_alerting(ISSUE_RECEIVERS, ISSUE_ENV), session, counter)
    kinds = {name: type(n).__name__ for name, n in notifiers.items()}
    assert kinds == {
        "oncall-webhook": "WebhookNotifier",
        "pager": "PagerDutyNotifier",
        "slack": "SlackNotifier",
        "mail": "EmailNotifier",
        "am": "AlertmanagerNotifier",
        "sms": "SmsNotifier",
    }


def test_hand_made_receiver_without_spec_is_refused(
    session: aiohttp.ClientSession, counter: Counter
) -> None:
    with pytest.raises(ValueError, match="'x': expected a WebhookSpec"):
        build_notifier(Receiver("x", "webhook", {"url": "http://127.0.0.1:1/"}), session, counter)


def test_receiver_specs_apply_defaults() -> None:
    pd = receiver("pagerduty", routing_key="k" * 32).spec
    assert pd == PagerDutySpec(
        routing_key="k" * 32, url="https://events.pagerduty.com/v2/enqueue", timeout=10.0
    )
    sms = receiver("sms", url="http://127.0.0.1:1/", to="+15550100", format="json").spec
    assert sms == SmsSpec(url="http://127.0.0.1:1/", to=("+15550100",), format="json")
    mail = receiver("email", **MAIL).spec
    assert isinstance(mail, EmailSpec)
    assert (mail.smtp.port, mail.smtp.starttls, mail.sender) == (25, False, "v@example.com")


MAIL = {"from": "v@example.com", "to": ["oncall@example.com"], "smtp": {"host": "127.0.0.1"}}
SMS = {"url": "http://127.0.0.1:1/", "to": ["+15550100"]}
SPEC_ERRORS = [
    pytest.param(
        "webhook", {"url": "ftp://hooks.example.com/x"},
        "field 'url': expected an http:// or https:// URL with a host", id="url-scheme",
    ),
    pytest.param(
        "slack", {"url": "https://x.test/", "timeout": "0s"},
        "field 'timeout': must be longer than 0s", id="zero-timeout",
    ),
    pytest.param(
        "webhook", {"url": "https://x.test/", "tiemout": "1s"},
        "unknown key 'tiemout' (did you mean 'timeout'?)", id="misspelt-key",
    ),
    pytest.param(
        "pagerduty", {"routing_key": ""},
        "field 'routing_key': required: give a non-empty value", id="empty-routing-key",
    ),
    pytest.param(
        "alertmanager", {"url": "http://127.0.0.1:9093", "resend_interval": 60},
        "field 'resend_interval': bad duration 60: add a unit, e.g. 60s", id="resend-without-unit",
    ),
    pytest.param(
        "email", MAIL | {"from": "vantage"},
        "field 'from': expected an email address, got 'vantage'", id="bad-from",
    ),
    pytest.param(
        "email", MAIL | {"to": []}, "field 'to': list at least one recipient", id="no-recipient",
    ),
    pytest.param(
        "email", MAIL | {"smtp": {"host": "127.0.0.1", "port": 70000}},
        "field 'smtp.port': expected a port number 1-65535, got 70000", id="bad-port",
    ),
    pytest.param(
        "email", MAIL | {"smtp": {"host": "127.0.0.1", "username": "v"}},
        "field 'smtp': password required: give username and password together", id="user-no-password",
    ),
    pytest.param(
        "email", MAIL | {"smtp": {"host": "smtp.example.com", "username": "v", "password": "pw"}},
        "field 'smtp': starttls must be true to send a password to smtp.example.com",
        id="password-in-clear",
    ),
    pytest.param(
        "email", MAIL | {"smtp": {"host": "127.0.0.1", "starttls": "yes"}},
        "field 'smtp.starttls': expected true or false, got string", id="starttls-not-bool",
    ),
    pytest.param(
        "sms", SMS | {"format": "xml"}, "field 'format': Input should be 'form' or 'json'", id="bad-format",
    ),
    pytest.param(
        "sms", SMS | {"to": [15550100]},
        "field 'to.0': expected a string, got int: quote it in YAML", id="unquoted-number",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "settings", "message"), SPEC_ERRORS)
def test_receiver_spec_errors(kind: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_alerting({"receivers": [{"name": "r", "type": kind, **settings}]}, {})
    assert caught.value.problems == [f"<alerting>: receiver 'r': {message}"]


def test_password_in_clear_is_fine_on_loopback() -> None:
    smtp = {"host": "127.0.0.1", "username": "v", "password": "pw"}
    assert receiver("email", **MAIL | {"smtp": smtp}).spec is not None


# --- retries and accounting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, TransientSendError), (503, TransientSendError), (429, TransientSendError),
     (400, PermanentSendError), (404, PermanentSendError), (302, PermanentSendError)],
    ids=["500", "503", "429", "400", "404", "redirect"],
)  # fmt: skip
def test_status_mapping(status: int, kind: type[Exception]) -> None:
    assert type(status_error(status, "  nope \n")) is kind
    assert str(status_error(status, "  nope \n")) == f"HTTP {status}: nope"


async def test_503_twice_then_ok_is_retried_and_counted_once(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    recorder.scripts["/flaky"] = [503, 503, 200]
    notifier = build("webhook", session, counter, url=recorder.url("/flaky"))
    with capture_logs() as events:
        await notifier.send(note(FIRING))
    assert len(recorder.at("/flaky")) == 3
    assert outcomes(registry) == {"success": 1, "failure": 0}
    retries = [e for e in events if e["event"] == "notify.retry_scheduled"]
    assert [e["attempt"] for e in retries] == [1, 2]
    assert retries[0]["error"] == "HTTP 503: answer 503"


async def test_429_is_retried(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    recorder.scripts["/busy"] = [429]
    await build("slack", session, counter, url=recorder.url("/busy")).send(note(FIRING))
    assert len(recorder.at("/busy")) == 2
    assert outcomes(registry) == {"success": 1, "failure": 0}


async def test_400_is_not_retried_counted_and_logged_with_fingerprint(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    recorder.scripts["/bad"] = [400]
    notifier = build("webhook", session, counter, url=recorder.url("/bad"))
    with capture_logs() as events:
        await notifier.send(note(FIRING, SLOW))  # never raises
    assert len(recorder.at("/bad")) == 1
    assert outcomes(registry) == {"success": 0, "failure": 1}
    [failed] = [e for e in events if e["event"] == "notify.failed"]
    assert failed["receiver"] == "r"
    assert failed["fingerprints"] == [FIRING.fingerprint, SLOW.fingerprint]
    assert failed["error"] == "HTTP 400: answer 400"
    assert failed["log_level"] == "error"


async def test_unreachable_receiver_gives_up_after_the_attempts(
    session: aiohttp.ClientSession, counter: Counter, registry: CollectorRegistry
) -> None:
    policy = replace(FAST, attempts=3)
    notifier = build("webhook", session, counter, policy, url=f"http://127.0.0.1:{free_port()}/")
    with capture_logs() as events:
        await notifier.send(note(FIRING))
    assert [e["event"] for e in events] == [
        "notify.retry_scheduled", "notify.retry_scheduled", "notify.failed",
    ]  # fmt: skip
    assert "ClientConnectorError" in events[-1]["error"]
    assert outcomes(registry) == {"success": 0, "failure": 1}


async def test_slow_receiver_times_out_and_is_retried(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    recorder.delay = 0.5
    policy = replace(FAST, attempts=2)
    notifier = build(
        "webhook", session, counter, policy, url=recorder.url("/slow"), timeout="100ms"
    )
    with capture_logs() as events:
        await notifier.send(note(FIRING))
    assert len(recorder.at("/slow")) == 2
    assert events[-1]["error"] == "timed out after 0.1s"
    assert outcomes(registry) == {"success": 0, "failure": 1}


async def test_total_time_bounds_the_retries(
    session: aiohttp.ClientSession, counter: Counter, registry: CollectorRegistry
) -> None:
    policy = RetryPolicy(attempts=100, first_wait=0.1, max_wait=0.1, total=0.3)
    notifier = build("webhook", session, counter, policy, url=f"http://127.0.0.1:{free_port()}/")
    with capture_logs() as events:
        async with asyncio.timeout(2):
            await notifier.send(note(FIRING))
    retries = sum(e["event"] == "notify.retry_scheduled" for e in events)
    assert 1 <= retries < 99  # time ran out long before the attempts did
    assert outcomes(registry) == {"success": 0, "failure": 1}


class _Broken(BaseNotifier):
    async def deliver(self, notification: Notification) -> None:
        raise KeyError("a bug")


async def test_a_bug_in_a_notifier_is_counted_and_logged_not_raised(
    session: aiohttp.ClientSession, counter: Counter, registry: CollectorRegistry
) -> None:
    with capture_logs() as events:
        await _Broken("r", Context(session, counter), 1.0).send(note(FIRING))
    assert events[-1]["event"] == "notify.failed"
    assert events[-1]["error"] == "KeyError: 'a bug'"
    assert outcomes(registry) == {"success": 0, "failure": 1}


async def test_cancelled_send_is_counted_then_cancelled(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    recorder.delay = 5.0
    task = asyncio.create_task(
        build("webhook", session, counter, url=recorder.url("/")).send(note(FIRING))
    )
    await recorder.until("/", 1)
    with capture_logs() as events:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert events[-1]["error"] == "cancelled: the collector is shutting down"
    assert outcomes(registry) == {"success": 0, "failure": 1}


async def test_secrets_are_registered_for_redaction(
    session: aiohttp.ClientSession, counter: Counter
) -> None:
    slack = "https://hooks.slack.test/services/T000/B000/sEcReTtOkEn"
    build("slack", session, counter, url=slack)
    build("pagerduty", session, counter, routing_key="R0UT1NGKEY0123456789")
    build("alertmanager", session, counter, url="http://am:p4ssw0rd@127.0.0.1:9093/")
    sms: dict[str, Any] = {"url": "http://127.0.0.1:1/send?token=t0k3n-abc", "to": ["+15550100"]}
    build("sms", session, counter, **sms, username="AC123", password="auth-t0ken")
    line = f"{slack} R0UT1NGKEY0123456789 p4ssw0rd t0k3n-abc auth-t0ken"
    assert redaction.scrub(line) == " ".join([redaction.REDACTED] * 5)


# --- webhook ------------------------------------------------------------------------------------


async def test_webhook_payload(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    await build("webhook", session, counter, url=recorder.url("/hook")).send(note(FIRING))
    [hit] = recorder.at("/hook")
    body = hit.json()
    assert hit.headers["Content-Type"] == "application/json"
    assert {k: body[k] for k in ("version", "receiver", "status", "group_labels")} == {
        "version": "1", "receiver": "r", "status": "firing", "group_labels": {"check": "home"},
    }  # fmt: skip
    assert body["summary"] == "[FIRING] CheckDown home (eu-west, us-east)"
    [alert] = body["alerts"]
    assert alert["fingerprint"] == FIRING.fingerprint
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["summary"].startswith("home down in eu-west, us-east")
    assert (alert["starts_at"], alert["ends_at"]) == ("2026-09-21T14:13:20.000Z", None)
    assert alert["runbook_url"] == "https://runbooks.example.com/home"
    details = alert["details"]
    assert details["regions"] == ["eu-west", "us-east"]
    assert details["reasons"] == {"eu-west": "connect_refused", "us-east": "connect_refused"}
    assert (details["request_id"], details["release"]) == ("req-eu-1", "v1.4.2")
    assert details["incident"]["id"] == f"home@{int(T0)}"
    assert outcomes(registry) == {"success": 1, "failure": 0}


async def test_webhook_resolved(
    recorder: Recorder, session: aiohttp.ClientSession, counter: Counter
) -> None:
    await build("webhook", session, counter, url=recorder.url("/hook")).send(note(RESOLVED))
    body = recorder.at("/hook")[0].json()
    assert body["status"] == "resolved"
    assert body["alerts"][0]["ends_at"] == render.rfc3339(T0 + 300)
    assert body["summary"] == "[RESOLVED] CheckDown home (eu-west, us-east)"


# --- slack --------------------------------------------------------------------------------------


async def test_slack_message_has_readable_blocks_and_a_fallback(
    recorder: Recorder, session: aiohttp.ClientSession, counter: Counter
) -> None:
    await build("slack", session, counter, url=recorder.url("/slack")).send(note(FIRING))
    body = recorder.at("/slack")[0].json()
    assert body["text"].startswith("[FIRING] CheckDown home (eu-west, us-east): home down in")
    header, section, context = body["blocks"]
    assert header["text"] == {
        "type": "plain_text", "text": "🔴 [FIRING] CheckDown home", "emoji": True,
    }  # fmt: skip
    assert section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"].startswith("*home down in eu-west, us-east: connect_refused")
    assert "First failing result" in section["text"]["text"]
    assert [e["text"] for e in context["elements"]] == [
        "*Regions:* eu-west, us-east",
        "*Release:* v1.4.2",
        "<https://runbooks.example.com/home|Runbook>",
    ]


async def test_slack_resolved_and_escaped(
    recorder: Recorder, session: aiohttp.ClientSession, counter: Counter
) -> None:
    odd = replace(RESOLVED, annotations={"summary": "a <b> & c"})
    await build("slack", session, counter, url=recorder.url("/slack")).send(note(odd))
    header, section, *_ = recorder.at("/slack")[0].json()["blocks"]
    assert header["text"]["text"] == "✅ [RESOLVED] CheckDown home"
    assert section["text"]["text"] == "*a &lt;b&gt; &amp; c*"


# --- pagerduty ----------------------------------------------------------------------------------


async def test_pagerduty_trigger_and_resolve_share_the_dedup_key(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    key = "pd-routing-key-0123456789abcdef"
    pd = build("pagerduty", session, counter, routing_key=key, url=recorder.url("/v2/enqueue"))
    await pd.send(note(FIRING, SLOW))
    await pd.send(note(RESOLVED))
    events = [h.json() for h in recorder.at("/v2/enqueue")]
    trigger = next(e for e in events if e["dedup_key"] == FIRING.fingerprint)
    assert {e["dedup_key"] for e in events[:2]} == {FIRING.fingerprint, SLOW.fingerprint}
    assert events[2] == {
        "routing_key": key, "dedup_key": FIRING.fingerprint, "event_action": "resolve",
    }  # fmt: skip
    assert trigger["event_action"] == "trigger"
    payload = trigger["payload"]
    assert payload["summary"].startswith("CheckDown home: home down in eu-west, us-east")
    assert (payload["source"], payload["severity"], payload["class"]) == (
        "home", "critical", "CheckDown",
    )  # fmt: skip
    assert payload["custom_details"]["regions"] == ["eu-west", "us-east"]
    assert payload["custom_details"]["request_id"] == "req-eu-1"
    assert trigger["links"] == [{"href": "https://runbooks.example.com/home", "text": "Runbook"}]
    assert outcomes(registry) == {"success": 2, "failure": 0}


async def test_pagerduty_failure_names_only_the_refused_alert(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    recorder.refuse[SLOW.fingerprint] = 400
    pd = build("pagerduty", session, counter, routing_key="k" * 32, url=recorder.url("/pd"))
    with capture_logs() as events:
        await pd.send(note(FIRING, SLOW))
    assert len(recorder.at("/pd")) == 2  # the good event still went out
    [failed] = [e for e in events if e["event"] == "notify.failed"]
    assert failed["fingerprints"] == [SLOW.fingerprint]
    assert failed["error"] == "1 of 2 requests failed: HTTP 400: answer 400"
    assert outcomes(registry) == {"success": 0, "failure": 1}


# --- sms ----------------------------------------------------------------------------------------


async def test_sms_form_one_message_per_recipient_with_basic_auth(
    recorder: Recorder, session: aiohttp.ClientSession, counter: Counter
) -> None:
    sms = build(
        "sms", session, counter, url=recorder.url("/Messages.json"), to=["+15550100", "+15550101"],
        username="AC123", password="auth-token", **sender("+15550199"),
    )  # fmt: skip
    await sms.send(note(FIRING))
    hits = recorder.at("/Messages.json")
    assert sorted(h.form()["To"] for h in hits) == ["+15550100", "+15550101"]
    form = hits[0].form()
    assert form["From"] == "+15550199"
    assert form["Body"] == (
        "[FIRING] home down in eu-west, us-east: connect_refused; "
        "started 3m after deploy portal v1.4.2"
    )
    assert (
        hits[0].headers["Authorization"]
        == "Basic " + base64.b64encode(b"AC123:auth-token").decode()
    )


async def test_sms_json(
    recorder: Recorder, session: aiohttp.ClientSession, counter: Counter
) -> None:
    sms = build("sms", session, counter, url=recorder.url("/sms"), to=["+15550100"], format="json")
    await sms.send(note(RESOLVED))
    [hit] = recorder.at("/sms")
    assert "Authorization" not in hit.headers
    message = hit.json()
    assert message.keys() == {"to", "message"}
    assert message["to"] == "+15550100"
    assert message["message"].startswith("[RESOLVED] home recovered after 5m")


def test_sms_text_fits_one_message() -> None:
    long = replace(SLOW, annotations={"summary": "x" * 500})
    text = render.short_text(note(long, FIRING))
    assert len(text) == render.SMS_LIMIT
    assert text.endswith("…")
    assert render.short_text(note(SLOW)) == "[FIRING] " + SLOW.annotations["summary"]


# --- alertmanager (protocol details; the real Alertmanager is in test_notifiers_alertmanager) ---


async def test_alertmanager_posts_v2_alerts_with_ends_at(
    recorder: Recorder, session: aiohttp.ClientSession, counter: Counter
) -> None:
    am = build("alertmanager", session, counter, url=recorder.url("/"), resend_interval="30s")
    await am.send(note(FIRING, replace(RESOLVED, labels=SLOW.labels)))
    [hit] = recorder.at("/api/v2/alerts")
    firing, resolved = hit.json()
    assert firing["labels"] == dict(FIRING.labels)
    assert firing["annotations"]["runbook_url"] == "https://runbooks.example.com/home"
    assert firing["startsAt"] == render.rfc3339(T0)
    # clock is T0 + 60; endsAt is reckoned from at least 60 s, so a collector
    # restart longer than 4 x resend_interval does not resolve (then re-page)
    assert firing["endsAt"] == render.rfc3339(T0 + 60 + 4 * 60)
    assert resolved["endsAt"] == render.rfc3339(T0 + 300)
    assert "generatorURL" not in firing


async def test_alertmanager_refresh_reposts_firing_alerts_before_they_lapse(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    am = build("alertmanager", session, counter, url=recorder.url("/am"), resend_interval="60s")
    assert isinstance(am, AlertmanagerNotifier)
    await am.send(note(FIRING))  # posted at T0 + 60
    await am.refresh(T0 + 90)  # not due yet
    assert len(recorder.at("/am/api/v2/alerts")) == 1
    await am.refresh(T0 + 120)
    hits = recorder.at("/am/api/v2/alerts")
    assert len(hits) == 2
    assert hits[1].json()[0]["endsAt"] == render.rfc3339(T0 + 120 + 240)
    await am.send(note(RESOLVED))
    await am.refresh(T0 + 500)  # nothing left to keep alive
    assert len(recorder.at("/am/api/v2/alerts")) == 3
    assert am.tracked() == []
    assert outcomes(registry) == {"success": 3, "failure": 0}


async def test_alertmanager_failed_post_is_retried_by_refresh(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    counter: Counter,
    registry: CollectorRegistry,
) -> None:
    recorder.scripts["/api/v2/alerts"] = [400]
    am = build("alertmanager", session, counter, url=recorder.url("/"))
    assert isinstance(am, AlertmanagerNotifier)
    await am.send(note(RESOLVED))
    await am.refresh(T0 + 61)
    assert len(recorder.at("/api/v2/alerts")) == 2
    assert am.tracked() == []
    assert outcomes(registry) == {"success": 1, "failure": 1}


async def test_alertmanager_refresh_resolves_what_the_collector_forgot(
    recorder: Recorder, session: aiohttp.ClientSession, counter: Counter
) -> None:
    am = build("alertmanager", session, counter, url=recorder.url("/"))
    assert isinstance(am, AlertmanagerNotifier)
    await am.send(note(FIRING, SLOW))
    await am.refresh(T0 + 70, firing={SLOW.fingerprint})
    [gone] = recorder.at("/api/v2/alerts")[1].json()
    assert (gone["labels"], gone["endsAt"]) == (dict(FIRING.labels), render.rfc3339(T0 + 70))
    assert am.tracked() == [SLOW]
