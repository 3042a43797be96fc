"""Email notifier tests against a real SMTP server: aiosmtpd on 127.0.0.1,
with STARTTLS (a trustme certificate) and AUTH where a test needs them."""

from __future__ import annotations

import email
import email.policy
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from collector.alerting.notifiers import Notifier
from collector.alerting.notifiers.base import PermanentSendError, TransientSendError
from collector.alerting.notifiers.email import smtp_error
from tests.collector import test_notifiers as shared
from tests.collector.test_notifiers import FIRING, RESOLVED, SLOW, build, note, outcomes, sender
from tests.support.net import free_port

PASSWORD = "s3cret-pw"
session, registry, counter = shared.session, shared.registry, shared.counter  # fixtures


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every message; answers DATA from `replies` first."""

    messages: list[EmailMessage] = field(default_factory=list)
    sessions: list[tuple[bool, bool]] = field(default_factory=list)
    """(over TLS, authenticated) per message."""
    replies: list[str] = field(default_factory=list)

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd's hook name
        """Accept the message, unless a scripted reply comes first."""
        if self.replies:
            return self.replies.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.sessions.append((session.ssl is not None, bool(session.authenticated)))
        return "250 OK"

    def authenticate(self, *args: Any) -> AuthResult:
        """aiosmtpd authenticator: user `vantage` with `PASSWORD`."""
        data = args[-1]
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"vantage", PASSWORD.encode(),
        )  # fmt: skip
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535 itself


@dataclass
class Server:
    """A running SMTP server."""

    inbox: Inbox
    port: int
    ca_file: str = ""


def _serve(inbox: Inbox, **options: Any) -> Iterator[Server]:
    port = free_port()
    # server_hostname: aiosmtpd would otherwise ask DNS for our FQDN
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, server_hostname="smtp.test", **options
    )
    controller.start()
    try:
        yield Server(inbox, port)
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[Server]:
    """A plain SMTP server."""
    yield from _serve(Inbox())


@pytest.fixture
def ca() -> trustme.CA:
    """A test CA."""
    return trustme.CA()


@pytest.fixture
def smtp_tls(ca: trustme.CA, tmp_path: Path) -> Iterator[Server]:
    """An SMTP server that requires STARTTLS and offers AUTH over it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    inbox = Inbox()
    for server in _serve(
        inbox,
        tls_context=context,
        require_starttls=True,
        authenticator=inbox.authenticate,
        auth_require_tls=True,
    ):
        server.ca_file = str(ca_file)
        yield server


def mailer(
    server: Server, session: aiohttp.ClientSession, counter: Counter, **smtp: Any
) -> Notifier:
    """An email notifier for `server`."""
    settings = {"host": "127.0.0.1", "port": server.port, "timeout": "5s", **smtp}
    return build(
        "email", session, counter, smtp=settings, to=["oncall@example.com", "sre@example.com"],
        **sender("vantage@example.com"),
    )  # fmt: skip


async def test_email_subject_and_body(
    smtp: Server, session: aiohttp.ClientSession, counter: Counter, registry: CollectorRegistry
) -> None:
    await mailer(smtp, session, counter).send(note(FIRING))
    [message] = smtp.inbox.messages
    assert message["Subject"] == "[FIRING] CheckDown home (eu-west, us-east)"
    assert message["From"] == "vantage@example.com"
    assert message["To"] == "oncall@example.com, sre@example.com"
    assert message["Message-ID"].endswith("@example.com>")
    body = message.get_content().replace("\r\n", "\n")  # SMTP line ends
    assert body.startswith(
        "== Newly firing (1) ==\n\n[FIRING] CheckDown home\n\nhome down in eu-west"
    )
    assert "First failing result" in body  # the description
    for line in (
        "Regions: eu-west, us-east",
        "Reasons: eu-west: connect_refused, us-east: connect_refused",
        "Request id: req-eu-1",
        "Release: v1.4.2",
        "Runbook: https://runbooks.example.com/home",
        "Started: 2026-09-21T14:13:20.000Z",
        f"Fingerprint: {FIRING.fingerprint}",
    ):
        assert f"\n{line}\n" in body
    assert smtp.inbox.sessions == [(False, False)]
    assert outcomes(registry) == {"success": 1, "failure": 0}


async def test_email_group_and_resolve(
    smtp: Server, session: aiohttp.ClientSession, counter: Counter
) -> None:
    notifier = mailer(smtp, session, counter)
    await notifier.send(note(FIRING, SLOW))
    await notifier.send(note(RESOLVED))
    group, resolved = smtp.inbox.messages
    # (a long subject is folded on the wire; the reader unfolds it)
    assert group["Subject"].strip() == (
        "[FIRING] CheckDown home (eu-west, us-east); also firing: LatencyHigh api"
    )
    assert "[FIRING] LatencyHigh api" in group.get_content()
    assert resolved["Subject"] == "[RESOLVED] CheckDown home (eu-west, us-east)"
    assert "Resolution: regions recovered" in resolved.get_content()


async def test_email_4xx_is_retried_5xx_is_not(
    smtp: Server, session: aiohttp.ClientSession, counter: Counter, registry: CollectorRegistry
) -> None:
    smtp.inbox.replies = ["451 4.3.0 try again later"]
    notifier = mailer(smtp, session, counter)
    await notifier.send(note(FIRING))
    assert len(smtp.inbox.messages) == 1
    smtp.inbox.replies = ["554 5.7.1 rejected", "250 would have been accepted"]
    with capture_logs() as events:
        await notifier.send(note(FIRING))
    assert smtp.inbox.replies == ["250 would have been accepted"]  # no second try
    assert events[-1]["event"] == "notify.failed"
    assert "554" in events[-1]["error"]
    assert outcomes(registry) == {"success": 1, "failure": 1}


async def test_email_unreachable_server_is_retried_then_counted(
    session: aiohttp.ClientSession, counter: Counter, registry: CollectorRegistry
) -> None:
    with capture_logs() as events:
        await mailer(Server(Inbox(), free_port()), session, counter).send(note(FIRING))
    assert [e["event"] for e in events].count("notify.retry_scheduled") == 3
    assert "ConnectionRefusedError" in events[-1]["error"]
    assert outcomes(registry) == {"success": 0, "failure": 1}


async def test_email_starttls_and_auth(
    smtp_tls: Server, session: aiohttp.ClientSession, counter: Counter, registry: CollectorRegistry
) -> None:
    notifier = mailer(
        smtp_tls, session, counter, starttls=True, ca_file=smtp_tls.ca_file,
        username="vantage", password=PASSWORD,
    )  # fmt: skip
    await notifier.send(note(FIRING))
    assert smtp_tls.inbox.sessions == [(True, True)]
    assert smtp_tls.inbox.messages[0]["Subject"] == "[FIRING] CheckDown home (eu-west, us-east)"
    assert outcomes(registry) == {"success": 1, "failure": 0}


async def test_email_wrong_password_is_not_retried_nor_logged(
    smtp_tls: Server, session: aiohttp.ClientSession, counter: Counter, registry: CollectorRegistry
) -> None:
    wrong = "wr0ng-password"
    notifier = mailer(
        smtp_tls, session, counter, starttls=True, ca_file=smtp_tls.ca_file,
        username="vantage", password=wrong,
    )  # fmt: skip
    with capture_logs() as events:
        await notifier.send(note(FIRING))
    assert [e["event"] for e in events] == ["notify.failed"]  # no retry
    assert "SMTPAuthenticationError: (535" in events[-1]["error"]
    assert wrong not in repr(events)
    assert outcomes(registry) == {"success": 0, "failure": 1}


async def test_email_untrusted_certificate_is_a_permanent_failure(
    smtp_tls: Server, session: aiohttp.ClientSession, counter: Counter
) -> None:
    with capture_logs() as events:
        await mailer(smtp_tls, session, counter, starttls=True).send(note(FIRING))  # system CAs
    assert [e["event"] for e in events] == ["notify.failed"]
    assert "SSLCertVerificationError" in events[0]["error"]
    assert smtp_tls.inbox.messages == []


async def test_email_without_starttls_is_refused_by_a_server_requiring_it(
    smtp_tls: Server, session: aiohttp.ClientSession, counter: Counter
) -> None:
    with capture_logs() as events:
        await mailer(smtp_tls, session, counter).send(note(FIRING))
    assert [e["event"] for e in events] == ["notify.failed"]
    assert "530" in events[0]["error"]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (smtplib.SMTPResponseException(421, b"shutting down"), TransientSendError),
        (smtplib.SMTPSenderRefused(451, b"later", "v@example.com"), TransientSendError),
        (smtplib.SMTPDataError(554, b"spam"), PermanentSendError),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), PermanentSendError),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"busy")}), TransientSendError),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no such user")}), PermanentSendError),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), PermanentSendError),
        (smtplib.SMTPException("No suitable authentication method found."), PermanentSendError),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), TransientSendError),
        (ConnectionResetError(104, "reset"), TransientSendError),
        (TimeoutError("timed out"), TransientSendError),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), PermanentSendError),
    ],
    ids=[
        "421", "451-sender", "554-data", "535-auth", "450-rcpt", "550-rcpt", "no-starttls",
        "no-auth-method", "disconnected", "reset", "timeout", "untrusted-cert",
    ],
)  # fmt: skip
def test_smtp_error_mapping(error: OSError, kind: type[Exception]) -> None:
    assert type(smtp_error(error)) is kind
