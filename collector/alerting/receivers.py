"""Receiver settings of the `alerting:` section: one typed spec per receiver
type, and the parsing that builds them (env values resolved, secrets kept
out of error messages)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from collector.alerting.parsing import ParserBase, loopback

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


class ReceiverParser(ParserBase):
    """Parses `receivers:`; the alerting parser builds on it."""

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
        if spec.password and not spec.starttls and not loopback(spec.host):
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
