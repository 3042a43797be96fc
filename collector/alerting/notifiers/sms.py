"""`sms`: one short text per recipient, POSTed to an SMS gateway.

`format: form` sends Twilio-compatible form fields (`To`, `From`, `Body`)
with HTTP basic auth when username and password are set (Twilio: account
SID and auth token); `format: json` sends `{"to", "from", "message"}`. The
text fits one SMS: `[FIRING] home down in eu-west, us-east: connect_refused`.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from collector.alerting.model import Notification
from collector.alerting.notifiers import render
from collector.alerting.notifiers.base import BaseNotifier, Context, redact_url
from collector.alerting.receivers import SmsSpec
from common import redaction


class SmsNotifier(BaseNotifier):
    """POSTs `render.short_text(notification)` once per recipient."""

    def __init__(self, name: str, spec: SmsSpec, context: Context) -> None:
        super().__init__(name, context, spec.timeout)
        self.spec = spec
        self.headers = (
            {"Authorization": aiohttp.encode_basic_auth(spec.username, spec.password)}
            if spec.username
            else {}
        )
        redact_url(spec.url, whole=True)
        redaction.redact(spec.password)

    async def deliver(self, notification: Notification) -> None:
        """One message per recipient, side by side; a failed one names its alerts."""
        text = render.short_text(notification)
        fingerprints = [a.fingerprint for a in notification.alerts]
        requests = [self.request(self.spec.url, **self.body(to, text)) for to in self.spec.to]
        await self.attempt_each([(fingerprints, request) for request in requests])

    def body(self, to: str, text: str) -> dict[str, Any]:
        """aiohttp keyword arguments for the message to `to`."""
        if self.spec.format == "json":
            fields = {"to": to, "from": self.spec.sender, "message": text}
        else:
            fields = {"To": to, "From": self.spec.sender, "Body": text}
        fields = {k: v for k, v in fields.items() if v}  # no `from`: the gateway's default
        key = "json" if self.spec.format == "json" else "data"
        return {key: fields, "headers": self.headers}
