"""`email`: one plain-text message per notification over SMTP, with optional
STARTTLS and AUTH.

The stdlib `smtplib` runs in a worker thread (`asyncio.to_thread`): mail is
rare, so a thread per message costs nothing and saves a dependency. The
subject names the state, the alert, the check and the regions:
`[FIRING] CheckDown home (eu-west, us-east)`.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from collector.alerting.model import Alert, Notification
from collector.alerting.notifiers import render
from collector.alerting.notifiers.base import (
    BaseNotifier,
    Context,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from collector.alerting.receivers import EmailSpec, SmtpSpec
from common import redaction


class EmailNotifier(BaseNotifier):
    """Sends `build_message(notification)` through the configured SMTP server."""

    def __init__(self, name: str, spec: EmailSpec, context: Context) -> None:
        super().__init__(name, context, spec.smtp.timeout)
        self.spec = spec
        redaction.redact(spec.smtp.password)

    async def deliver(self, notification: Notification) -> None:
        """Build the message once; each attempt is a fresh SMTP session."""
        message = build_message(notification, self.spec)
        await self.attempt(lambda: asyncio.to_thread(self._send_once, message))

    def _send_once(self, message: EmailMessage) -> None:
        try:
            refused = smtp_send(self.spec.smtp, message)
        except OSError as exc:  # smtplib's own errors are OSErrors too
            raise smtp_error(exc) from exc
        if refused:  # some recipients got it: resending would duplicate theirs
            raise PermanentSendError(f"recipients refused: {', '.join(sorted(refused))}")


def build_message(notification: Notification, spec: EmailSpec) -> EmailMessage:
    """The message: headers plus a plain-text body."""
    message = EmailMessage()
    message["Subject"] = render.headline(notification)
    message["From"] = spec.sender
    message["To"] = ", ".join(spec.to)
    message["Date"] = formatdate(usegmt=True)
    # make_msgid() without a domain asks DNS for our FQDN; the sender's domain will do
    message["Message-ID"] = make_msgid(domain=spec.sender.rpartition("@")[2] or "vantage")
    message.set_content(body(notification))
    return message


_SECTIONS = (("Newly firing", "fired"), ("Resolved", "resolved"), ("Still firing", "ongoing"))


def body(notification: Notification) -> str:
    """What changed first: a section per kind of change (newly firing,
    resolved), then what still fires; one block per alert."""
    blocks = []
    for heading, attribute in _SECTIONS:
        alerts: tuple[Alert, ...] = getattr(notification, attribute)
        if alerts:
            blocks += [f"== {heading} ({len(alerts)}) ==", *(alert_text(a) for a in alerts)]
    footer = f"Receiver {notification.receiver}, group {notification.group_key}."
    return "\n\n".join([*blocks, f"-- \n{footer}\n"])


def alert_text(alert: Alert) -> str:
    """`[FIRING] CheckDown home`, the texts, and `Key: value` details."""
    lines = [f"{render.tag(alert.state)} {render.title(alert)}", "", render.summary(alert)]
    if description := alert.annotations.get("description"):
        lines.append(description)
    if resolution := alert.annotations.get("resolution"):
        lines.append(f"Resolution: {resolution}")
    return "\n".join([*lines, "", *render.detail_lines(alert)])


def smtp_send(spec: SmtpSpec, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """One SMTP session (blocking); returns the refused recipients."""
    # local_hostname: smtplib's default would ask DNS for our FQDN
    with smtplib.SMTP(
        spec.host, spec.port, local_hostname=socket.gethostname(), timeout=spec.timeout
    ) as smtp:
        if spec.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=spec.ca_file or None))
        if spec.username:
            smtp.login(spec.username, spec.password)
        return smtp.send_message(message)


def smtp_error(exc: OSError) -> SendError:
    """SMTP 4xx replies and network trouble are transient; 5xx replies, a
    missing STARTTLS or AUTH method, and certificate failures are not."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return _by_code(min(codes, default=550), text)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, text)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientSendError(text)
    if isinstance(exc, smtplib.SMTPException | ssl.SSLCertVerificationError):
        return PermanentSendError(text)
    return TransientSendError(text)  # refused, reset, timed out


def _by_code(code: int, text: str) -> SendError:
    return TransientSendError(text) if 400 <= code < 500 else PermanentSendError(text)
