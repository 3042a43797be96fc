"""Notifiers: one module per receiver type, and the one registry mapping a
type to its factory. Adding a receiver type means a `*Spec` in
`collector.alerting.config`, one module here, one line in `FACTORIES` and
one test module.

The collector builds one notifier per configured receiver and hands each
`Notification` from the dispatcher to `notifiers[n.receiver].send(n)`;
`send` never raises (failures are logged as `notify.failed` and counted).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import aiohttp
from prometheus_client import Counter

from collector.alerting.config import AlertingConfig
from collector.alerting.notifiers.alertmanager import AlertmanagerNotifier
from collector.alerting.notifiers.base import Context, Notifier, RetryPolicy
from collector.alerting.notifiers.email import EmailNotifier
from collector.alerting.notifiers.pagerduty import PagerDutyNotifier
from collector.alerting.notifiers.slack import SlackNotifier
from collector.alerting.notifiers.sms import SmsNotifier
from collector.alerting.notifiers.webhook import WebhookNotifier
from collector.alerting.receivers import (
    AlertmanagerSpec,
    EmailSpec,
    PagerDutySpec,
    Receiver,
    SmsSpec,
    WebhookSpec,
)

__all__ = [
    "FACTORIES",
    "AlertmanagerNotifier",
    "Context",
    "Notifier",
    "RetryPolicy",
    "build_notifier",
    "build_notifiers",
]

Factory = Callable[[Receiver, Context], Notifier]
_S = TypeVar("_S")


def _factory(cls: Callable[[str, _S, Context], Notifier], spec_type: type[_S]) -> Factory:
    def build(receiver: Receiver, context: Context) -> Notifier:
        if not isinstance(receiver.spec, spec_type):  # built by hand, not by parse_alerting
            raise ValueError(f"receiver {receiver.name!r}: expected a {spec_type.__name__}")
        return cls(receiver.name, receiver.spec, context)

    return build


FACTORIES: dict[str, Factory] = {
    "webhook": _factory(WebhookNotifier, WebhookSpec),
    "slack": _factory(SlackNotifier, WebhookSpec),
    "email": _factory(EmailNotifier, EmailSpec),
    "pagerduty": _factory(PagerDutyNotifier, PagerDutySpec),
    "alertmanager": _factory(AlertmanagerNotifier, AlertmanagerSpec),
    "sms": _factory(SmsNotifier, SmsSpec),
}
"""Receiver type -> notifier factory: the one place a type is wired in."""


def build_notifier(
    receiver: Receiver,
    session: aiohttp.ClientSession,
    counter: Counter,
    *,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.time,
) -> Notifier:
    """The notifier for one parsed receiver. `counter` is
    `vantage_notifications_total` with labels (receiver, outcome). Registers
    the receiver's secrets with `common.redaction.redact`. Raises ValueError for a
    receiver that did not come from `parse_alerting`."""
    if receiver.type not in FACTORIES:
        raise ValueError(f"receiver {receiver.name!r}: unknown type {receiver.type!r}")
    context = Context(session, counter, policy or RetryPolicy(), clock)
    return FACTORIES[receiver.type](receiver, context)


def build_notifiers(
    config: AlertingConfig,
    session: aiohttp.ClientSession,
    counter: Counter,
    *,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Notifier]:
    """One notifier per configured receiver, by receiver name."""
    return {
        r.name: build_notifier(r, session, counter, policy=policy, clock=clock)
        for r in config.receivers
    }
