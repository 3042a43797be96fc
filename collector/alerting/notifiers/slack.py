"""`slack`: an incoming-webhook message with Block Kit blocks people can read
at a glance, and a plain `text` fallback for notifications and old clients.

Per alert: a header (state emoji, alertname, check), a section with the
summary and description, and a context line with regions, release and the
runbook link. Slack allows 50 blocks, so a big group shows its first
`MAX_ALERTS` alerts and says how many more there are.
"""

from __future__ import annotations

from typing import Any

from collector.alerting.model import Alert, AlertState, Notification, Severity
from collector.alerting.notifiers import render
from collector.alerting.notifiers.base import BaseNotifier, Context, redact_url
from collector.alerting.receivers import WebhookSpec

MAX_ALERTS = 10
_EMOJI: dict[str, str] = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}
_RESOLVED = "✅"
_HEADER_LIMIT = 150  # Slack rejects longer header texts
_SECTION_LIMIT = 3000


class SlackNotifier(BaseNotifier):
    """POSTs `message(notification)` to a Slack incoming-webhook URL."""

    def __init__(self, name: str, spec: WebhookSpec, context: Context) -> None:
        super().__init__(name, context, spec.timeout)
        self.spec = spec
        redact_url(spec.url, whole=True)  # the path of a Slack webhook URL is its token

    async def deliver(self, notification: Notification) -> None:
        """One POST of the message."""
        await self.post(self.spec.url, json=message(notification))


def message(notification: Notification) -> dict[str, Any]:
    """The incoming-webhook body: `text` fallback plus `blocks`."""
    alerts = render.ordered(notification)
    shown = alerts[:MAX_ALERTS]
    changed = len(notification.fired) + len(notification.resolved)
    blocks = [b for a in shown[:changed] for b in alert_blocks(a)]
    if shown[changed:]:  # what still fires is context, under its own heading
        blocks.append({"type": "context", "elements": [_mrkdwn("*Still firing:*")]})
        blocks += [b for a in shown[changed:] for b in alert_blocks(a)]
    if len(alerts) > MAX_ALERTS:
        more = f"and {len(alerts) - MAX_ALERTS} more alerts in this group"
        blocks.append({"type": "context", "elements": [_mrkdwn(more)]})
    lead = notification.lead
    return {"text": f"{render.headline(notification)}: {render.summary(lead)}", "blocks": blocks}


def alert_blocks(alert: Alert) -> list[dict[str, Any]]:
    """Header, section and context blocks for one alert."""
    emoji = _RESOLVED if alert.state is AlertState.RESOLVED else _EMOJI.get(alert.severity, "🟠")
    header = f"{emoji} {render.tag(alert.state)} {render.title(alert)}"[:_HEADER_LIMIT]
    text = f"*{escape(render.summary(alert))}*"
    if description := alert.annotations.get("description"):
        text += f"\n{escape(description)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {"type": "section", "text": _mrkdwn(text[:_SECTION_LIMIT])},
    ]
    if facts := context_facts(alert):
        blocks.append({"type": "context", "elements": [_mrkdwn(f) for f in facts]})
    return blocks


def context_facts(alert: Alert) -> list[str]:
    """Small print under an alert: regions, release, runbook link."""
    facts = []
    if regions := render.regions(alert):
        facts.append(f"*Regions:* {escape(', '.join(regions))}")
    if release := alert.annotations.get("release"):
        facts.append(f"*Release:* {escape(release)}")
    if runbook := render.runbook(alert):
        facts.append(f"<{escape(runbook)}|Runbook>")
    return facts


def escape(text: str) -> str:
    """Slack mrkdwn control characters, escaped as Slack documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}
