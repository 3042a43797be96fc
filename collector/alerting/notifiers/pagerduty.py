"""`pagerduty`: Events API v2, one event per change: `trigger` for an alert
that newly fires, `resolve` for one that resolved. An alert that still fires
is not news: PagerDuty already holds its incident, so it gets no event.

`dedup_key` is the alert's fingerprint for both `trigger` and `resolve`, so
PagerDuty folds a re-sent trigger into the open incident and the resolve
closes exactly that incident. Events go side by side, each retried on its
own; PagerDuty answers 202 when it has queued one.
"""

from __future__ import annotations

from typing import Any

from collector.alerting.model import Alert, AlertState, Notification, Severity
from collector.alerting.notifiers import render
from collector.alerting.notifiers.base import BaseNotifier, Context, redact_url
from collector.alerting.receivers import PagerDutySpec
from common import redaction

SUMMARY_LIMIT = 1024  # the API rejects longer summaries
_SEVERITIES = {Severity.CRITICAL, Severity.WARNING, Severity.INFO}


class PagerDutyNotifier(BaseNotifier):
    """POSTs one `event(...)` per alert to the Events API."""

    def __init__(self, name: str, spec: PagerDutySpec, context: Context) -> None:
        super().__init__(name, context, spec.timeout)
        self.spec = spec
        redaction.redact(spec.routing_key)
        redact_url(spec.url, whole=False)

    async def deliver(self, notification: Notification) -> None:
        """One event per change; the failed ones are named in the error."""
        changed = notification.fired + notification.resolved
        await self.attempt_each(
            [([a.fingerprint], self.request(self.spec.url, json=self.event(a))) for a in changed]
        )

    def event(self, alert: Alert) -> dict[str, Any]:
        """The event for `alert` with this receiver's routing key."""
        return event(alert, self.spec.routing_key)


def event(alert: Alert, routing_key: str) -> dict[str, Any]:
    """A `trigger` with the alert's details, or a `resolve` (which needs none)."""
    base = {"routing_key": routing_key, "dedup_key": alert.fingerprint}
    if alert.state is AlertState.RESOLVED:
        return base | {"event_action": "resolve"}
    body: dict[str, Any] = base | {"event_action": "trigger", "payload": payload(alert)}
    if runbook := render.runbook(alert):
        body["links"] = [{"href": runbook, "text": "Runbook"}]
    return body


def payload(alert: Alert) -> dict[str, Any]:
    """The trigger's `payload`: summary, source, severity and custom details."""
    summary = f"{render.title(alert)}: {render.summary(alert)}"
    severity = alert.severity if alert.severity in _SEVERITIES else Severity.WARNING
    optional = {"class": alert.name, "group": alert.labels.get("service", "")}
    return {
        "summary": summary[:SUMMARY_LIMIT],
        "source": render.subject_of(alert) or "vantage",
        "severity": str(severity),
        "timestamp": render.rfc3339(alert.starts_at),
        **{k: v for k, v in optional.items() if v},
        "custom_details": {
            "regions": render.regions(alert),
            "reasons": render.reasons(alert),
            "request_id": render.request_id(alert),
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            **alert.details,
        },
    }
