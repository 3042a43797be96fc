"""`webhook`: the whole notification as JSON, for on-call tooling to parse.

```json
{"version": "1", "receiver": "oncall-webhook", "status": "firing",
 "group_key": "route.routes[0]:{check=\\"home\\"}", "group_labels": {"check": "home"},
 "summary": "[FIRING] CheckDown home (eu-west, us-east)",
 "changes": {"firing": ["3f2a..."], "resolved": []},
 "alerts": [{"status": "firing", "labels": {...}, "annotations": {...},
             "starts_at": "2026-11-27T10:00:00.000Z", "ends_at": null,
             "fingerprint": "3f2a...", "runbook_url": "https://...",
             "details": {"regions": ["eu-west", "us-east"],
                         "reasons": {"eu-west": "connect_refused"},
                         "request_id": "...", "release": "v1.4.2", "incident": {...}}}]}
```
"""

from __future__ import annotations

from typing import Any

from collector.alerting.model import Alert, Notification
from collector.alerting.notifiers import render
from collector.alerting.notifiers.base import BaseNotifier, Context, redact_url
from collector.alerting.receivers import WebhookSpec

VERSION = "1"
"""Bumped when a field changes meaning or goes away; new fields keep it."""


class WebhookNotifier(BaseNotifier):
    """POSTs `payload(notification)` to the receiver's URL."""

    def __init__(self, name: str, spec: WebhookSpec, context: Context) -> None:
        super().__init__(name, context, spec.timeout)
        self.spec = spec
        redact_url(spec.url, whole=True)

    async def deliver(self, notification: Notification) -> None:
        """One POST of the JSON payload."""
        await self.post(self.spec.url, json=payload(notification))


def payload(notification: Notification) -> dict[str, Any]:
    """The JSON body for `notification`."""
    return {
        "version": VERSION,
        "receiver": notification.receiver,
        "status": str(notification.state),
        "group_key": notification.group_key,
        "group_labels": dict(notification.group_labels),
        "summary": render.headline(notification),
        "changes": {
            "firing": [a.fingerprint for a in notification.fired],
            "resolved": [a.fingerprint for a in notification.resolved],
        },
        "alerts": [alert_payload(a) for a in render.ordered(notification)],
    }


def alert_payload(alert: Alert) -> dict[str, Any]:
    """One alert: identity, texts, times and the incident's details."""
    details = {
        "regions": render.regions(alert),
        "reasons": render.reasons(alert),
        "request_id": render.request_id(alert),
        "release": alert.annotations.get("release", ""),
        **alert.details,
    }
    return {
        "status": str(alert.state),
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": render.rfc3339(alert.starts_at),
        "ends_at": None if alert.ends_at is None else render.rfc3339(alert.ends_at),
        "fingerprint": alert.fingerprint,
        "runbook_url": render.runbook(alert),
        "details": details,
    }
