"""Receiver settings of the `alerting:` section: one options model per
receiver type (defaults live here and nowhere else). The one list of
receiver types, mapping each to its model and notifier, is
`collector.alerting.notifiers.RECEIVER_TYPES`.

Every model is validated by the loader's machinery (common.config.loader),
so a mistake reads `FILE:LINE: receiver 'pager': field 'url': why`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from collector.alerting.parsing import (
    Address,
    Emails,
    Flag,
    OptionalUrl,
    Phones,
    Port,
    Required,
    Text,
    Timeout,
    Url,
    loopback,
)
from common.config.base import Model


class Options(Model):
    """Settings every receiver type has."""

    model_config = ConfigDict(populate_by_name=True)  # `sender` in code, `from` in YAML

    timeout: Timeout = 10.0
    """How long one attempt may take."""


class WebhookSpec(Options):
    """`webhook` and `slack`: POST JSON to `url` (often a secret: it may embed a token)."""

    url: Url


class PagerDutySpec(Options):
    """`pagerduty`: Events API v2; `url` is overridable for tests and proxies."""

    routing_key: Required
    url: Url = "https://events.pagerduty.com/v2/enqueue"


class AlertmanagerSpec(Options):
    """`alertmanager`: POST `url`/api/v2/alerts; firing alerts are re-posted
    every `resend_interval` and expire 4 x `resend_interval` after a post."""

    url: Url
    resend_interval: Timeout = 60.0
    generator_url: OptionalUrl = ""


def _pair(username: str, password: str) -> None:
    """Basic auth and SMTP AUTH take both credentials or neither."""
    if bool(username) != bool(password):
        missing = "password" if username else "username"
        raise ValueError(f"{missing} required: give username and password together")
    if ":" in username:  # basic auth joins them with ':'
        raise ValueError("username must not contain ':'")


class SmtpSpec(Options):
    """The `smtp:` block of an email receiver; AUTH only with both credentials."""

    host: Required
    port: Port = 25
    starttls: Flag = False
    username: Text = ""
    password: Text = ""
    ca_file: Text = ""
    """CA bundle to verify the server's STARTTLS certificate; empty: system CAs."""

    @model_validator(mode="after")
    def _safe_auth(self) -> SmtpSpec:
        _pair(self.username, self.password)
        # AUTH in clear text would hand the password to anyone on the path;
        # on loopback there is no path.
        if self.password and not self.starttls and not loopback(self.host):
            raise ValueError(f"starttls must be true to send a password to {self.host}")
        return self


class EmailSpec(Model):
    """`email`: one message per notification, from `sender` (YAML `from`) to `to`."""

    model_config = ConfigDict(populate_by_name=True)

    smtp: SmtpSpec
    sender: Address = Field(alias="from")
    to: Emails


class SmsSpec(Options):
    """`sms`: one POST per recipient to a gateway, as a Twilio-style form
    (To, From, Body; basic auth from username/password) or JSON."""

    url: Url
    to: Phones
    sender: Text = Field(default="", alias="from")
    format: Literal["form", "json"] = "form"
    username: Text = ""
    password: Text = ""

    @model_validator(mode="after")
    def _credentials(self) -> SmsSpec:
        _pair(self.username, self.password)
        return self


ReceiverSpec = WebhookSpec | PagerDutySpec | AlertmanagerSpec | EmailSpec | SmsSpec
"""The typed settings of one receiver, by type."""


@dataclass(frozen=True)
class Receiver:
    """A named receiver; `settings` are its other keys as written (with
    `${env:...}` resolved), `spec` the same validated."""

    name: str
    type: str
    settings: dict[str, Any] = field(default_factory=dict)
    spec: ReceiverSpec | None = None
    """None only for a receiver built by hand."""
