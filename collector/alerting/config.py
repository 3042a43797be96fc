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
  receivers:                  # settings per type: see receivers.py
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

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from collector.alerting.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule
from collector.alerting.model import Severity
from collector.alerting.receivers import Receiver, ReceiverParser
from collector.alerting.silences import DAYS, MaintenanceWindow, Matchers
from common.config.base import SEVERITIES, suggest
from common.config.detection import DEFAULT_BUDGET

GROUP_WAIT = 10.0
CRITICAL_GROUP_WAIT = 0.0
GROUP_INTERVAL = 60.0
REPEAT_INTERVAL = 4 * 3600.0

_TOP_KEYS = (
    "route", "receivers", "inhibit_rules", "default_inhibit_rules", "silences", "detection_budget",
)  # fmt: skip
_ROUTE_KEYS = (
    "receivers", "group_by", "group_wait", "group_interval", "repeat_interval",
    "match", "match_re", "continue", "routes",
)  # fmt: skip
_RULE_KEYS = ("source_match", "source_match_re", "target_match", "target_match_re", "equal")
_WINDOW_KEYS = ("matchers", "matchers_re", "weekly", "timezone", "comment")
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
class AlertingConfig:
    """The validated `alerting:` section."""

    route: Route = field(default_factory=lambda: Route("route"))
    receivers: tuple[Receiver, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES
    windows: tuple[MaintenanceWindow, ...] = ()
    detection_budget: float = DEFAULT_BUDGET
    """Seconds from failure to page that every check should meet;
    `vantage validate` warns about checks whose settings cannot."""

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


class _Parser(ReceiverParser):
    """Walks the section, collecting every problem with its path."""

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
        budget = self.duration(data, "detection_budget", "alerting")
        return AlertingConfig(
            route=route,
            receivers=receivers,
            inhibit_rules=defaults
            + tuple(self.rule(r, f"alerting.inhibit_rules[{i}]") for i, r in enumerate(rules)),
            windows=tuple(self.window(w, f"alerting.silences[{i}]") for i, w in enumerate(windows)),
            detection_budget=DEFAULT_BUDGET if budget is None else budget,
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
            matchers=self.severity_checked(self.matchers(data, ("match", "match_re"), path), path),
            continue_=self.flag(data, "continue", path),
            group_wait=base.group_wait if wait is None else wait,
            group_interval=base.group_interval if interval is None else interval,
            repeat_interval=base.repeat_interval if repeat is None else repeat,
        )
        children = self.sequence(data.get("routes", []), f"{path}.routes")
        nodes = tuple(self.route(c, f"{path}.routes[{i}]", route) for i, c in enumerate(children))
        return replace(route, routes=nodes)

    def severity_checked(self, matchers: Matchers, path: str) -> Matchers:
        """A route matching a severity no alert has would never match."""
        severity = matchers.equal.get("severity")
        if severity is not None and severity not in SEVERITIES:
            hint = suggest(severity, SEVERITIES)
            self.fail(
                f"{path}.match.severity",
                f"{severity!r} is not one of {', '.join(SEVERITIES)}{hint}",
            )
        return matchers

    def group_by(self, data: Mapping[str, Any], path: str) -> tuple[str, ...]:
        return self.strings(data["group_by"], f"{path}.group_by")

    def receiver_refs(self, data: Mapping[str, Any], path: str) -> tuple[str, ...]:
        names = self.strings(data["receivers"], f"{path}.receivers")
        for name in names:
            if name not in self.receiver_names:
                hint = suggest(name, self.receiver_names)
                self.fail(f"{path}.receivers", f"unknown receiver {name!r}{hint}")
        return names

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


def _long_day(short: str) -> str:
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return names[DAYS.index(short)]
