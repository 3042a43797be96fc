"""The `alerting:` section of the collector config. Pure: parses data that is
already loaded from YAML; `${env:NAME}` is resolved from a mapping passed in.

```yaml
alerting:
  route:                      # the root matches every alert
    receivers: [oncall-webhook]
    group_by: [check]         # or [...] for one group per alert
    group_wait: 10s           # default: 0s for critical alerts, 10s otherwise
    group_interval: 1m        # between notifications about one group
    repeat_interval: 4h       # re-send a group that is still firing
    routes:                   # first match wins unless `continue: true`
      - match: {severity: critical}
        match_re: {service: "portal|api"}
        receivers: [pager, oncall-webhook]
        continue: false
  receivers:                  # settings per type: see the *Spec classes
    - {name: pager, type: pagerduty, routing_key: "${env:PD_ROUTING_KEY}"}
    - {name: mail, type: email, from: vantage@example.com, to: [oncall@example.com],
       smtp: {host: smtp.example.com, port: 587, starttls: true,
              username: vantage, password: "${env:SMTP_PASSWORD}"}}
    - {name: sms, type: sms, url: "${env:SMS_GATEWAY_URL}", to: ["+15550100"],
       from: "+15550199", format: form, username: "${env:SMS_USER}",
       password: "${env:SMS_TOKEN}"}
  inhibit_rules:              # added to the defaults in inhibit.py
    - {source_match: {alertname: X}, target_match: {alertname: Y}, equal: [check]}
  default_inhibit_rules: true
  silences:                   # recurring maintenance windows
    - {matchers: {check: home}, weekly: {days: [sat], start: "02:00", end: "04:00"},
       timezone: UTC}
```

A child route inherits every setting it does not set from its parent.
Every mistake is reported, each naming its field, e.g.
`alerting.route.routes[0].match: expected a mapping of label: value, got list`.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo

from collector.alerting.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule
from collector.alerting.model import Severity
from collector.alerting.silences import DAYS, MaintenanceWindow, Matchers
from common.durations import parse_duration

RECEIVER_TYPES: dict[str, tuple[str, ...]] = {
    "webhook": ("url",),
    "slack": ("url",),
    "email": ("smtp", "from", "to"),
    "pagerduty": ("routing_key",),
    "alertmanager": ("url",),
    "sms": ("url", "to"),
}
"""Receiver types and the settings each one needs (see `_RECEIVER_OPTIONS`)."""

_RECEIVER_OPTIONS: dict[str, tuple[str, ...]] = {
    "webhook": ("timeout",),
    "slack": ("timeout",),
    "email": (),
    "pagerduty": ("url", "timeout"),
    "alertmanager": ("timeout", "resend_interval", "generator_url"),
    "sms": ("from", "format", "username", "password", "timeout"),
}
_SMTP_KEYS = ("host", "port", "starttls", "username", "password", "ca_file", "timeout")
HTTP_TIMEOUT = 10.0
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
RESEND_INTERVAL = 60.0

GROUP_WAIT = 10.0
CRITICAL_GROUP_WAIT = 0.0
GROUP_INTERVAL = 60.0
REPEAT_INTERVAL = 4 * 3600.0

_TOP_KEYS = ("route", "receivers", "inhibit_rules", "default_inhibit_rules", "silences")
_ROUTE_KEYS = (
    "receivers", "group_by", "group_wait", "group_interval", "repeat_interval",
    "match", "match_re", "continue", "routes",
)  # fmt: skip
_RULE_KEYS = ("source_match", "source_match_re", "target_match", "target_match_re", "equal")
_WINDOW_KEYS = ("matchers", "matchers_re", "weekly", "timezone", "comment")
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Route:
    """One node of the route tree, with inherited settings filled in."""

    id: str
    """Its path in the config (`route.routes[0]`): stable while the config is."""
    receivers: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    matchers: Matchers = field(default_factory=Matchers)
    continue_: bool = False
    group_wait: float | None = None
    """None: 0s for critical alerts, so paging is never delayed; 10s otherwise."""
    group_interval: float = GROUP_INTERVAL
    repeat_interval: float = REPEAT_INTERVAL
    routes: tuple[Route, ...] = ()

    def wait_for(self, severity: str) -> float:
        """The group_wait an alert of `severity` gets on this route."""
        if self.group_wait is not None:
            return self.group_wait
        return CRITICAL_GROUP_WAIT if severity == Severity.CRITICAL else GROUP_WAIT

    def walk(self) -> Iterator[Route]:
        """This route and every route below it, depth first."""
        yield self
        for child in self.routes:
            yield from child.walk()


@dataclass(frozen=True)
class WebhookSpec:
    """`webhook` and `slack`: POST JSON to `url` (often a secret: it may embed a token)."""

    url: str
    timeout: float = HTTP_TIMEOUT


@dataclass(frozen=True)
class PagerDutySpec:
    """`pagerduty`: Events API v2; `url` is overridable for tests and proxies."""

    routing_key: str
    url: str = PAGERDUTY_URL
    timeout: float = HTTP_TIMEOUT


@dataclass(frozen=True)
class AlertmanagerSpec:
    """`alertmanager`: POST `url`/api/v2/alerts; firing alerts are re-posted
    every `resend_interval` and expire 4 x `resend_interval` after a post."""

    url: str
    resend_interval: float = RESEND_INTERVAL
    generator_url: str = ""
    timeout: float = HTTP_TIMEOUT


@dataclass(frozen=True)
class SmtpSpec:
    """The `smtp:` block of an email receiver; AUTH only with both credentials."""

    host: str
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    ca_file: str = ""
    """CA bundle to verify the server's STARTTLS certificate; empty: system CAs."""
    timeout: float = HTTP_TIMEOUT


@dataclass(frozen=True)
class EmailSpec:
    """`email`: one message per notification, from `sender` (YAML `from`) to `to`."""

    smtp: SmtpSpec
    sender: str
    to: tuple[str, ...]


@dataclass(frozen=True)
class SmsSpec:
    """`sms`: one POST per recipient to a gateway, as a Twilio-style form
    (To, From, Body; basic auth from username/password) or JSON."""

    url: str
    to: tuple[str, ...]
    sender: str = ""
    format: Literal["form", "json"] = "form"
    username: str = ""
    password: str = ""
    timeout: float = HTTP_TIMEOUT


ReceiverSpec = WebhookSpec | PagerDutySpec | AlertmanagerSpec | EmailSpec | SmsSpec
"""The typed settings of one receiver, by type."""


@dataclass(frozen=True)
class Receiver:
    """A named receiver; `settings` are the other keys, `${env:...}` resolved."""

    name: str
    type: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    spec: ReceiverSpec | None = None
    """`settings` validated and typed; None only for a receiver built by hand."""


@dataclass(frozen=True)
class AlertingConfig:
    """The validated `alerting:` section."""

    route: Route = field(default_factory=lambda: Route("route"))
    receivers: tuple[Receiver, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES
    windows: tuple[MaintenanceWindow, ...] = ()

    def receiver(self, name: str) -> Receiver | None:
        """The receiver called `name`, if any."""
        return next((r for r in self.receivers if r.name == name), None)


class AlertingConfigError(ValueError):
    """The `alerting:` section is invalid; `problems` has one line per mistake."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_alerting(
    data: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
) -> AlertingConfig:
    """Validate the `alerting:` section (None or {} routes nowhere).

    `env` resolves `${env:NAME}` in receiver settings; None leaves them as
    written. Raises AlertingConfigError listing every mistake.
    """
    parser = _Parser(env)
    config = parser.config(data if data is not None else {})
    if parser.problems:
        raise AlertingConfigError(parser.problems)
    return config


def _kind(value: object) -> str:
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Parser:
    """Walks the section, collecting every problem with its path."""

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.env = env
        self.problems: list[str] = []
        self.receiver_names: list[str] = []

    def fail(self, path: str, why: str) -> None:
        self.problems.append(f"{path}: {why}")

    def mapping(self, value: object, path: str, what: str = "a mapping") -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.fail(path, f"expected {what}, got {_kind(value)}")
        return {}

    def sequence(self, value: object, path: str) -> list[Any]:
        if isinstance(value, list):
            return value
        self.fail(path, f"expected a list, got {_kind(value)}")
        return []

    def keys(self, data: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(f"{path}.{key}", f"unknown key{_suggest(str(key), allowed)}")

    def strings(self, value: object, path: str) -> tuple[str, ...]:
        items = self.sequence(value, path)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item:
                self.fail(f"{path}[{i}]", f"expected a name, got {_kind(item)}")
        return tuple(i for i in items if isinstance(i, str) and i)

    def duration(self, data: Mapping[str, Any], key: str, path: str) -> float | None:
        """The duration at `key` in seconds; None when absent or bad."""
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", f"bad duration {value!r}: add a unit, e.g. {value}s")
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(f"{path}.{key}", str(exc))
            return None

    def flag(self, data: Mapping[str, Any], key: str, path: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.fail(f"{path}.{key}", f"expected true or false, got {_kind(value)}")
            return False
        return value

    def labels(self, value: object, path: str) -> dict[str, str]:
        labels = {}
        for key, item in self.mapping(value, path, "a mapping of label: value").items():
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                labels[str(key)] = str(item)
            else:
                self.fail(f"{path}.{key}", f"expected a string, got {_kind(item)}")
        return labels

    def regexes(self, value: object, path: str) -> dict[str, re.Pattern[str]]:
        patterns = {}
        for key, text in self.labels(value, path).items():
            try:
                patterns[key] = re.compile(text)
            except re.error as exc:
                self.fail(f"{path}.{key}", f"bad regular expression {text!r}: {exc}")
        return patterns

    def matchers(self, data: Mapping[str, Any], keys: tuple[str, str], path: str) -> Matchers:
        equal = self.labels(data[keys[0]], f"{path}.{keys[0]}") if keys[0] in data else {}
        regex = self.regexes(data[keys[1]], f"{path}.{keys[1]}") if keys[1] in data else {}
        return Matchers(equal, regex)

    # --- sections -------------------------------------------------------

    def config(self, data: object) -> AlertingConfig:
        data = self.mapping(data, "alerting")
        self.keys(data, _TOP_KEYS, "alerting")
        receivers = self.receivers(data.get("receivers", []))
        route = self.route(data.get("route", {}), "alerting.route", None)
        if "route" in data and not route.receivers:
            self.fail("alerting.route.receivers", "list at least one receiver for unmatched alerts")
        defaults = () if data.get("default_inhibit_rules") is False else DEFAULT_INHIBIT_RULES
        self.flag(data, "default_inhibit_rules", "alerting")
        rules = self.sequence(data.get("inhibit_rules", []), "alerting.inhibit_rules")
        windows = self.sequence(data.get("silences", []), "alerting.silences")
        return AlertingConfig(
            route=route,
            receivers=receivers,
            inhibit_rules=defaults
            + tuple(self.rule(r, f"alerting.inhibit_rules[{i}]") for i, r in enumerate(rules)),
            windows=tuple(self.window(w, f"alerting.silences[{i}]") for i, w in enumerate(windows)),
        )

    def route(self, value: object, path: str, parent: Route | None) -> Route:
        data = self.mapping(value, path)
        self.keys(data, _ROUTE_KEYS, path)
        if parent is None and {"match", "match_re", "continue"} & data.keys():
            self.fail(path, "the root route matches every alert: put match in a child route")
        base = parent or Route(path.removeprefix("alerting."))
        wait = self.duration(data, "group_wait", path)
        interval = self.duration(data, "group_interval", path)
        repeat = self.duration(data, "repeat_interval", path)
        route = Route(
            id=path.removeprefix("alerting."),
            receivers=self.receiver_refs(data, path) if "receivers" in data else base.receivers,
            group_by=self.group_by(data, path) if "group_by" in data else base.group_by,
            matchers=self.matchers(data, ("match", "match_re"), path),
            continue_=self.flag(data, "continue", path),
            group_wait=base.group_wait if wait is None else wait,
            group_interval=base.group_interval if interval is None else interval,
            repeat_interval=base.repeat_interval if repeat is None else repeat,
        )
        children = self.sequence(data.get("routes", []), f"{path}.routes")
        nodes = tuple(self.route(c, f"{path}.routes[{i}]", route) for i, c in enumerate(children))
        return replace(route, routes=nodes)

    def group_by(self, data: Mapping[str, Any], path: str) -> tuple[str, ...]:
        return self.strings(data["group_by"], f"{path}.group_by")

    def receiver_refs(self, data: Mapping[str, Any], path: str) -> tuple[str, ...]:
        names = self.strings(data["receivers"], f"{path}.receivers")
        for name in names:
            if name not in self.receiver_names:
                hint = _suggest(name, self.receiver_names)
                self.fail(f"{path}.receivers", f"unknown receiver {name!r}{hint}")
        return names

    def receivers(self, value: object) -> tuple[Receiver, ...]:
        items = self.sequence(value, "alerting.receivers")
        parsed = [self.receiver(item, f"alerting.receivers[{i}]") for i, item in enumerate(items)]
        return tuple(r for r in parsed if r is not None)

    def receiver(self, value: object, path: str) -> Receiver | None:
        data = self.mapping(value, path)
        name, kind = data.get("name"), data.get("type")
        if not isinstance(name, str) or not name:
            self.fail(f"{path}.name", "required: give the receiver a name")
            return None
        if name in self.receiver_names:
            self.fail(f"{path}.name", f"receiver {name!r} is defined twice")
        self.receiver_names.append(name)
        if kind not in RECEIVER_TYPES:
            hint = f"use one of {', '.join(RECEIVER_TYPES)}"
            self.fail(f"{path}.type", f"unknown receiver type {kind!r}: {hint}")
            return None
        before = len(self.problems)
        for key in RECEIVER_TYPES[kind]:
            if key not in data:
                self.fail(path, f"a {kind} receiver needs {key!r}")
        settings = {k: self.expand(v, f"{path}.{k}") for k, v in data.items()}
        settings = {k: v for k, v in settings.items() if k not in ("name", "type")}
        # A missing or unresolved setting is already reported: typing the rest
        # would only add noise about the same mistake.
        spec = self.spec(kind, settings, path) if len(self.problems) == before else None
        return Receiver(name, kind, settings, spec)

    def expand(self, value: Any, path: str) -> Any:
        """Resolve `${env:NAME}` in strings, recursively."""
        if isinstance(value, dict):
            return {k: self.expand(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or self.env is None:
            return value
        for name in _ENV.findall(value):
            if name not in self.env:
                self.fail(path, f"environment variable {name} is not set")
        env = self.env
        return _ENV.sub(lambda m: env.get(m.group(1), ""), value)

    # --- receiver settings ------------------------------------------------

    def spec(self, kind: str, data: Mapping[str, Any], path: str) -> ReceiverSpec:
        self.keys(data, RECEIVER_TYPES[kind] + _RECEIVER_OPTIONS[kind], path)
        timeout = self.seconds(data, "timeout", path, HTTP_TIMEOUT)
        if kind in ("webhook", "slack"):
            return WebhookSpec(self.url(data, "url", path), timeout)
        if kind == "pagerduty":
            url = self.url(data, "url", path, PAGERDUTY_URL)
            return PagerDutySpec(self.text(data, "routing_key", path), url, timeout)
        if kind == "alertmanager":
            return AlertmanagerSpec(
                url=self.url(data, "url", path),
                resend_interval=self.seconds(data, "resend_interval", path, RESEND_INTERVAL),
                generator_url=self.url(data, "generator_url", path, ""),
                timeout=timeout,
            )
        if kind == "email":
            return self.email(data, path)
        return self.sms(data, path, timeout)

    def email(self, data: Mapping[str, Any], path: str) -> EmailSpec:
        return EmailSpec(
            smtp=self.smtp(self.mapping(data["smtp"], f"{path}.smtp"), f"{path}.smtp"),
            sender=self.address(data, "from", path),
            to=self.recipients(data["to"], f"{path}.to", email=True),
        )

    def smtp(self, data: Mapping[str, Any], path: str) -> SmtpSpec:
        self.keys(data, _SMTP_KEYS, path)
        spec = SmtpSpec(
            host=self.text(data, "host", path),
            port=self.port(data.get("port", 25), f"{path}.port"),
            starttls=self.flag(data, "starttls", path),
            username=self.text(data, "username", path, ""),
            password=self.text(data, "password", path, ""),
            ca_file=self.text(data, "ca_file", path, ""),
            timeout=self.seconds(data, "timeout", path, HTTP_TIMEOUT),
        )
        self.credentials(spec.username, spec.password, path)
        # AUTH in clear text would hand the password to anyone on the path;
        # on loopback there is no path.
        if spec.password and not spec.starttls and not _loopback(spec.host):
            self.fail(f"{path}.starttls", f"must be true to send a password to {spec.host}")
        return spec

    def sms(self, data: Mapping[str, Any], path: str, timeout: float) -> SmsSpec:
        kind = data.get("format", "form")
        if kind not in ("form", "json"):
            self.fail(f"{path}.format", f"expected form or json, got {kind!r}")
        spec = SmsSpec(
            url=self.url(data, "url", path),
            to=self.recipients(data["to"], f"{path}.to", email=False),
            sender=self.text(data, "from", path, ""),
            format="json" if kind == "json" else "form",
            username=self.text(data, "username", path, ""),
            password=self.text(data, "password", path, ""),
            timeout=timeout,
        )
        self.credentials(spec.username, spec.password, path)
        return spec

    def credentials(self, username: str, password: str, path: str) -> None:
        if bool(username) != bool(password):
            missing = "password" if username else "username"
            self.fail(f"{path}.{missing}", "required: give username and password together")
        if ":" in username:  # basic auth joins them with ':'
            self.fail(f"{path}.username", "must not contain ':'")

    def text(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
        """The string at `key`; `default` None means required."""
        value = data.get(key, default)
        if value is None or (value == "" and default is None):
            self.fail(f"{path}.{key}", "required: give a non-empty value")
            return ""
        return self.string(value, f"{path}.{key}")

    def string(self, value: object, path: str) -> str:
        if isinstance(value, str):
            return value
        # YAML reads +15550100 as a number and drops the '+'
        self.fail(path, f"expected a string, got {_kind(value)}: quote it in YAML")
        return ""

    def url(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
        text = self.text(data, key, path, default)
        if not text or self.unresolved(text):
            return text
        parts = urllib.parse.urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # no value in the message: a receiver URL may carry a token
            self.fail(f"{path}.{key}", "expected an http:// or https:// URL with a host")
        return text

    def unresolved(self, text: str) -> bool:
        """A `${env:...}` left as written (no env given): its shape is unknown."""
        return self.env is None and _ENV.search(text) is not None

    def address(self, data: Mapping[str, Any], key: str, path: str) -> str:
        text = self.text(data, key, path)
        if text and "@" not in text and not self.unresolved(text):
            self.fail(f"{path}.{key}", f"expected an email address, got {text!r}")
        return text

    def recipients(self, value: object, path: str, *, email: bool) -> tuple[str, ...]:
        if isinstance(value, str):  # `to: a@example.com` is a natural way to write one
            value = [value]
        raw = self.sequence(value, path)
        if not raw:
            self.fail(path, "list at least one recipient")
        items = [self.string(v, f"{path}[{i}]") for i, v in enumerate(raw)]
        for i, item in enumerate(items):
            if email and item and "@" not in item and not self.unresolved(item):
                self.fail(f"{path}[{i}]", f"expected an email address, got {item!r}")
        return tuple(i for i in items if i)

    def seconds(self, data: Mapping[str, Any], key: str, path: str, default: float) -> float:
        value = self.duration(data, key, path)
        if value is not None and value <= 0:
            self.fail(f"{path}.{key}", "must be longer than 0s")
        return default if value is None or value <= 0 else value

    def port(self, value: object, path: str) -> int:
        if isinstance(value, str) and self.unresolved(value):
            return 0
        number = int(value) if isinstance(value, str) and value.isdigit() else value
        if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 65536:
            return number
        self.fail(path, f"expected a port number 1-65535, got {value!r}")
        return 0

    def rule(self, value: object, path: str) -> InhibitRule:
        data = self.mapping(value, path)
        self.keys(data, _RULE_KEYS, path)
        source = self.matchers(data, ("source_match", "source_match_re"), path)
        target = self.matchers(data, ("target_match", "target_match_re"), path)
        if not (source.equal or source.regex) or not (target.equal or target.regex):
            self.fail(path, "give source_match(_re) and target_match(_re): empty would match all")
        equal = self.strings(data["equal"], f"{path}.equal") if "equal" in data else ()
        return InhibitRule(source, target, equal)

    def window(self, value: object, path: str) -> MaintenanceWindow:
        data = self.mapping(value, path)
        self.keys(data, _WINDOW_KEYS, path)
        matchers = self.matchers(data, ("matchers", "matchers_re"), path)
        if not (matchers.equal or matchers.regex):
            self.fail(f"{path}.matchers", "required: a window without matchers mutes every alert")
        weekly = self.mapping(data.get("weekly"), f"{path}.weekly")
        self.keys(weekly, ("days", "start", "end"), f"{path}.weekly")
        zone = self.timezone(data.get("timezone", "UTC"), f"{path}.timezone")
        return MaintenanceWindow(
            matchers=matchers,
            days=self.days(weekly.get("days", list(DAYS)), f"{path}.weekly.days"),
            start=self.clock(weekly, "start", f"{path}.weekly"),
            end=self.clock(weekly, "end", f"{path}.weekly"),
            timezone=zone,
            comment=str(data.get("comment", "")),
        )

    def days(self, value: object, path: str) -> frozenset[int]:
        days = set()
        for i, day in enumerate(self.sequence(value, path)):
            short = str(day).lower()[:3]
            if short in DAYS and str(day).lower() in (short, _long_day(short)):
                days.add(DAYS.index(short))
            else:
                self.fail(f"{path}[{i}]", f"unknown day {day!r}: use {', '.join(DAYS)}")
        return frozenset(days)

    def clock(self, data: Mapping[str, Any], key: str, path: str) -> int:
        text = data.get(key)
        match = _CLOCK.match(text) if isinstance(text, str) else None
        if match is None and not (key == "end" and text == "24:00"):
            self.fail(f"{path}.{key}", f'expected a time like "02:00", got {text!r}')
            return 0
        return 24 * 60 if match is None else int(match.group(1)) * 60 + int(match.group(2))

    def timezone(self, value: object, path: str) -> str:
        try:
            ZoneInfo(str(value))
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            self.fail(path, f"unknown time zone {value!r}: use an IANA name like Europe/Berlin")
            return "UTC"
        return str(value)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _long_day(short: str) -> str:
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return names[DAYS.index(short)]
