"""Notifiers: one module per receiver type, and `RECEIVER_TYPES`, the one
list of receiver types: each maps to its options model (validation, the
config docs) and its notifier (`build_notifiers`). Adding a receiver type
means an options model in `collector.alerting.receivers`, one module here,
one line in `RECEIVER_TYPES` and one test module.

The collector builds one notifier per configured receiver and hands each
`Notification` from the dispatcher to `notifiers[n.receiver].send(n)`;
`send` never raises (failures are logged as `notify.failed` and counted).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import aiohttp
from prometheus_client import Counter

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
from common.config.base import Model

if TYPE_CHECKING:
    from collector.alerting.config import AlertingConfig

__all__ = [
    "RECEIVER_TYPES",
    "AlertmanagerNotifier",
    "Context",
    "Notifier",
    "ReceiverType",
    "RetryPolicy",
    "build_notifier",
    "build_notifiers",
]


class ReceiverType(NamedTuple):
    """What one `type:` of receiver is: its settings and who sends."""

    options: type[Model]
    notifier: Callable[[str, Any, Context], Notifier]
    """Called with the receiver's name, its validated `options` and the context."""


RECEIVER_TYPES: dict[str, ReceiverType] = {
    "webhook": ReceiverType(WebhookSpec, WebhookNotifier),
    "slack": ReceiverType(WebhookSpec, SlackNotifier),
    "email": ReceiverType(EmailSpec, EmailNotifier),
    "pagerduty": ReceiverType(PagerDutySpec, PagerDutyNotifier),
    "alertmanager": ReceiverType(AlertmanagerSpec, AlertmanagerNotifier),
    "sms": ReceiverType(SmsSpec, SmsNotifier),
}
"""Receiver type -> (options model, notifier): the one place a type is wired in."""


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
    receiver that did not come from the config loader."""
    kind = RECEIVER_TYPES.get(receiver.type)
    if kind is None:
        raise ValueError(f"receiver {receiver.name!r}: unknown type {receiver.type!r}")
    if not isinstance(receiver.spec, kind.options):  # built by hand, not by the config loader
        raise ValueError(f"receiver {receiver.name!r}: expected a {kind.options.__name__}")
    context = Context(session, counter, policy or RetryPolicy(), clock)
    return kind.notifier(receiver.name, receiver.spec, context)


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
