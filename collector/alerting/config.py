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

The section is a set of models (`section.AlertingSpec`, one options model per
receiver type in `collector.alerting.receivers`) validated by the loader's
machinery together with the checks (`alerting_section`), so one run of
`vantage validate` reports every mistake in the file, each as
`FILE:LINE: alerting: field 'route.routes.0.match': why` or
`FILE:LINE: receiver 'pager': field 'url': why`. Defaults live in the models.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from collector.alerting.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule
from collector.alerting.model import Severity
from collector.alerting.notifiers import RECEIVER_TYPES
from collector.alerting.parsing import expand
from collector.alerting.receivers import Receiver
from collector.alerting.section import (
    AlertingSpec,
    InhibitRuleSpec,
    RootRouteSpec,
    RouteSpec,
    WindowSpec,
)
from collector.alerting.silences import DAYS, MaintenanceWindow, Matchers
from common.config.base import ConfigError, suggest
from common.config.loader import Path_, Problems, Section, unknown_type, validate_model

# --- what the collector uses ----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One node of the route tree, with inherited settings filled in."""

    id: str
    """Its path in the config (`route.routes[0]`): stable while the config is."""
    group_interval: float
    repeat_interval: float
    receivers: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    matchers: Matchers = field(default_factory=Matchers)
    continue_: bool = False
    group_wait: float | None = None
    """None: RootRouteSpec.CRITICAL_GROUP_WAIT for critical alerts, so paging
    is never delayed; RootRouteSpec.GROUP_WAIT otherwise."""
    routes: tuple[Route, ...] = ()

    def wait_for(self, severity: str) -> float:
        """The group_wait an alert of `severity` gets on this route."""
        if self.group_wait is not None:
            return self.group_wait
        if severity == Severity.CRITICAL:
            return RootRouteSpec.CRITICAL_GROUP_WAIT
        return RootRouteSpec.GROUP_WAIT

    def walk(self) -> Iterator[Route]:
        """This route and every route below it, depth first."""
        yield self
        for child in self.routes:
            yield from child.walk()


@dataclass(frozen=True)
class AlertingConfig:
    """The validated `alerting:` section, as the dispatcher, router and
    notifiers use it."""

    route: Route
    receivers: tuple[Receiver, ...]
    inhibit_rules: tuple[InhibitRule, ...]
    windows: tuple[MaintenanceWindow, ...]
    detection_budget: float

    def receiver(self, name: str) -> Receiver | None:
        """The receiver called `name`, if any."""
        return next((r for r in self.receivers if r.name == name), None)


def alerting_section(env: Mapping[str, str] | None) -> Section:
    """The loader's `Section` for `alerting:` (common.config.loader), which
    makes an `AlertingConfig`. `env` resolves `${env:NAME}` in receivers;
    None leaves them as written (`vantage validate` on a laptop)."""
    return partial(_section, env=env)


def parse_alerting(
    data: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
) -> AlertingConfig:
    """An `alerting:` section given as data (tests, benchmarks): validated as
    `alerting_section` validates a file's. Raises ConfigError."""
    problems = Problems("<alerting>", {})
    config = _section(data, problems, env=env)
    if problems.items or config is None:
        raise ConfigError(problems.items)
    return config


def _section(
    raw: Any, problems: Problems, *, env: Mapping[str, str] | None
) -> AlertingConfig | None:
    if not isinstance(raw, dict | None):
        return None  # the loader said the section must be a mapping
    raw = raw or {}
    items = raw.get("receivers")
    items = items if isinstance(items, list) else []  # else AlertingSpec says what it must be
    receivers = _receivers(items, env, problems)
    spec = validate_model(AlertingSpec, raw, ("alerting",), problems, subject="alerting")
    names = [str(r.get("name")) for r in items if isinstance(r, dict)]
    for path, why in _unknown_receivers(raw.get("route"), ("route",), names):
        problems.add(("alerting", *path), why, subject="alerting")
    return None if spec is None else _build(spec, receivers)


def _receivers(
    items: list[Any], env: Mapping[str, str] | None, problems: Problems
) -> tuple[Receiver, ...]:
    names: list[str] = []
    parsed = [_receiver(item, i, env, problems, names) for i, item in enumerate(items)]
    return tuple(r for r in parsed if r is not None)


def _receiver(
    item: Any, index: int, env: Mapping[str, str] | None, problems: Problems, names: list[str]
) -> Receiver | None:
    path: Path_ = ("alerting", "receivers", index)
    if not isinstance(item, dict):
        return None  # AlertingSpec says it must be a mapping
    name, kind = item.get("name"), item.get("type")
    if not isinstance(name, str) or not name:
        why = "field 'name': required: give the receiver a name"
        problems.add((*path, "name"), why, subject=f"receiver #{index}")
        return None
    who = f"receiver {name!r}"
    if name in names:
        problems.add((*path, "name"), f"field 'name': {who} is defined twice", subject=who)
    names.append(name)
    entry = RECEIVER_TYPES.get(str(kind))
    if entry is None:
        problems.add((*path, "type"), unknown_type(kind, RECEIVER_TYPES), subject=who)
        return None
    settings = _resolved(
        {k: v for k, v in item.items() if k not in ("name", "type")}, env, path, problems, who
    )
    if settings is None:
        return None  # an unset variable: the rest would only repeat it
    spec = validate_model(entry.options, settings, path, problems, subject=who)
    # the registry pairs each type with one of the ReceiverSpec models
    return None if spec is None else Receiver(name, str(kind), settings, spec)  # type: ignore[arg-type]


def _resolved(
    settings: dict[str, Any],
    env: Mapping[str, str] | None,
    path: Path_,
    problems: Problems,
    who: str,
) -> dict[str, Any] | None:
    if env is None:
        return settings
    missing: list[tuple[Path_, str]] = []
    settings = expand(settings, env, missing)
    for at, why in missing:
        field_ = ".".join(str(p) for p in at)
        problems.add((*path, *at), f"field '{field_}': {why}", subject=who)
    return None if missing else settings


def _unknown_receivers(route: Any, path: Path_, names: list[str]) -> Iterator[tuple[Path_, str]]:
    """Each receiver a route names that no receiver is called. Walks the
    data as written, so it is said even when the route has other mistakes."""
    if not isinstance(route, dict):
        return
    refs = route.get("receivers")
    refs = [refs] if isinstance(refs, str) else refs  # one name may go without a list
    for name in refs if isinstance(refs, list) else ():
        if isinstance(name, str) and name not in names:
            where = ".".join(str(p) for p in path)
            yield (
                (*path, "receivers"),
                (f"field '{where}.receivers': unknown receiver {name!r}{suggest(name, names)}"),
            )
    children = route.get("routes")
    for i, child in enumerate(children if isinstance(children, list) else ()):
        yield from _unknown_receivers(child, (*path, "routes", i), names)


# --- from models to what the collector uses -------------------------------------------------------


def _build(spec: AlertingSpec, receivers: tuple[Receiver, ...]) -> AlertingConfig:
    rules = DEFAULT_INHIBIT_RULES if spec.default_inhibit_rules else ()
    return AlertingConfig(
        route=_route(spec.route or RootRouteSpec.model_construct(), "route", None),
        receivers=receivers,
        inhibit_rules=rules + tuple(_rule(r) for r in spec.inhibit_rules),
        windows=tuple(_window(w) for w in spec.silences),
        detection_budget=spec.detection_budget,
    )


def _matchers(equal: Mapping[str, str], regex: Mapping[str, str]) -> Matchers:
    return Matchers(dict(equal), {k: re.compile(v) for k, v in regex.items()})


def _route(spec: RouteSpec, id_: str, parent: Route | None) -> Route:
    """`spec` with what it does not set taken from `parent` (the root's
    model sets everything)."""
    inherited = parent or Route(id_, 0.0, 0.0)

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    route = Route(
        id=id_,
        receivers=pick(spec.receivers, inherited.receivers),
        group_by=pick(spec.group_by, inherited.group_by),
        matchers=_matchers(spec.match, spec.match_re),
        continue_=spec.continue_,
        group_wait=pick(spec.group_wait, inherited.group_wait),
        group_interval=pick(spec.group_interval, inherited.group_interval),
        repeat_interval=pick(spec.repeat_interval, inherited.repeat_interval),
    )
    children = (_route(c, f"{id_}.routes[{i}]", route) for i, c in enumerate(spec.routes))
    return replace(route, routes=tuple(children))


def _rule(spec: InhibitRuleSpec) -> InhibitRule:
    return InhibitRule(
        _matchers(spec.source_match, spec.source_match_re),
        _matchers(spec.target_match, spec.target_match_re),
        spec.equal,
    )


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _window(spec: WindowSpec) -> MaintenanceWindow:
    return MaintenanceWindow(
        matchers=_matchers(spec.matchers, spec.matchers_re),
        days=frozenset(DAYS.index(d) for d in spec.weekly.days),
        start=_minutes(spec.weekly.start),
        end=_minutes(spec.weekly.end),
        timezone=spec.timezone,
        comment=spec.comment,
    )
