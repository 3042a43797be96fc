"""Real mail servers on loopback for the STARTTLS tests: aiosmtpd (SMTP)
and Dovecot from Debian (IMAP and POP3), each with a trustme certificate
for 127.0.0.1 and mail.test."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from tests.support.binaries import require_binary
from tests.support.net import free_port, wait_for


@dataclass(frozen=True)
class MailCa:
    """The CA that signed every mail server's certificate, as a file."""

    ca: trustme.CA
    ca_file: str


@pytest.fixture(scope="module")
def mail_ca(tmp_path_factory: pytest.TempPathFactory) -> MailCa:
    """A test CA and its PEM file."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("mailca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return MailCa(ca, str(path))


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _smtp(mail_ca: MailCa, tls: bool) -> Iterator[int]:
    port = free_port()
    options: dict[str, Any] = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        mail_ca.ca.issue_cert("127.0.0.1", "mail.test").configure_cert(context)
        options = {"tls_context": context, "require_starttls": False}
    # server_hostname: aiosmtpd would otherwise ask DNS for our FQDN
    controller = Controller(
        _Sink(), hostname="127.0.0.1", port=port, server_hostname="mail.test", **options
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def smtp_starttls(mail_ca: MailCa) -> Iterator[int]:
    """The port of an SMTP server that offers STARTTLS."""
    yield from _smtp(mail_ca, tls=True)


@pytest.fixture(scope="module")
def smtp_plain(mail_ca: MailCa) -> Iterator[int]:
    """The port of an SMTP server that offers no STARTTLS."""
    yield from _smtp(mail_ca, tls=False)


@dataclass(frozen=True)
class Dovecot:
    """A running Dovecot: its IMAP and POP3 ports (STARTTLS on both)."""

    imap: int
    pop3: int


def _dovecot_conf(tmp: Path, imap: int, pop3: int) -> str:
    return f"""\
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = /dev/stderr
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{tmp}/cert.pem
ssl_key = <{tmp}/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={tmp}/home
}}
"""


@pytest.fixture(scope="module")
def dovecot(mail_ca: MailCa, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """Dovecot in the foreground, IMAP and POP3 with STARTTLS on loopback."""
    binary = require_binary("dovecot", "dovecot-imapd dovecot-pop3d")
    tmp = tmp_path_factory.mktemp("dovecot")
    cert = mail_ca.ca.issue_cert("127.0.0.1", "mail.test")
    cert.private_key_pem.write_to_path(str(tmp / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp / "cert.pem"))
    imap, pop3 = free_port(), free_port()
    (tmp / "dovecot.conf").write_text(_dovecot_conf(tmp, imap, pop3))
    log = (tmp / "dovecot.log").open("wb")
    proc = subprocess.Popen([binary, "-F", "-c", str(tmp / "dovecot.conf")], stdout=log, stderr=log)
    try:
        wait_for(lambda: _listening(imap) and _listening(pop3), 10, "dovecot listening", 0.02)
        yield Dovecot(imap, pop3)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
