"""The tcp probe against real servers on loopback: an asyncio banner
server, a TLS server with a trustme certificate, aiosmtpd with STARTTLS and
Dovecot (IMAP and POP3 with STARTTLS). The tls probe's STARTTLS runs
against the same servers."""

from __future__ import annotations

import asyncio
import ssl
import textwrap
from collections.abc import AsyncIterator

import pytest

from agent.probe_kit.base import ProbeContext
from agent.probes import tcp, tls
from common.config import ConfigError, parse_config
from common.config.tcp import TcpCheck
from common.config.tls import TlsCheck
from common.reasons import FailureReason
from tests.agent.mailservers import Dovecot, MailCa, dovecot, mail_ca, smtp_plain, smtp_starttls
from tests.support.net import free_port
from vantage.v1 import vantage_pb2 as pb

__all__ = ["dovecot", "mail_ca", "smtp_plain", "smtp_starttls"]

CTX = ProbeContext("agent-1", "eu-west")


def _tcp(port: int, **settings: object) -> TcpCheck:
    return TcpCheck.model_validate(
        {"name": "t", "target": f"127.0.0.1:{port}", "timeout": 3, **settings}
    )


def _reason(result: pb.Result) -> FailureReason:
    return FailureReason.from_proto(result.reason)


async def _banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.2 test\r\n")
    line = await reader.readline()
    writer.write(b"echo " + line)
    await writer.drain()
    writer.close()


@pytest.fixture
async def banner() -> AsyncIterator[int]:
    server = await asyncio.start_server(_banner, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest.fixture
async def tls_banner(mail_ca: MailCa) -> AsyncIterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    mail_ca.ca.issue_cert("127.0.0.1").configure_cert(context)
    server = await asyncio.start_server(_banner, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_connect_and_query_response(banner: int) -> None:
    steps = [{"expect": "^SSH-2.0-"}, {"send": "hello"}, {"expect": "^echo hello$"}]
    result = await tcp.probe(_tcp(banner, query_response=steps), CTX)
    assert result.success, result.message
    assert [(a.name, a.ok) for a in result.assertions] == [("tcp.expect", True)] * 2
    assert result.phases.connect > 0 and not result.HasField("tls")


async def test_expect_that_never_matches_fails_with_the_last_line(banner: int) -> None:
    # the server answers one line, then closes: the regex never matches
    steps = [{"send": "hello"}, {"expect": "^SSH-1"}, {"send": "never sent"}]
    result = await tcp.probe(_tcp(banner, query_response=steps), CTX)
    assert _reason(result) is FailureReason.ASSERTION
    assert result.message == "tcp.expect: no line matched '^SSH-1', last line 'echo hello'"


async def test_refused_port() -> None:
    result = await tcp.probe(_tcp(free_port()), CTX)
    assert _reason(result) is FailureReason.CONNECT_REFUSED


async def test_implicit_tls_records_the_certificate(tls_banner: int, mail_ca: MailCa) -> None:
    check = _tcp(tls_banner, tls=True, ca_file=mail_ca.ca_file, query_response=[{"expect": "SSH"}])
    result = await tcp.probe(check, CTX)
    assert result.success, result.message
    assert result.tls.not_after > 0 and "127.0.0.1" in result.tls.sans
    assert result.phases.tls > 0


async def test_untrusted_certificate(tls_banner: int) -> None:
    result = await tcp.probe(_tcp(tls_banner, tls=True), CTX)
    assert _reason(result) is FailureReason.TLS_VERIFY


@pytest.mark.integration
@pytest.mark.parametrize("probe", [tcp.probe, tls.probe], ids=["tcp", "tls"])
async def test_smtp_starttls(smtp_starttls: int, mail_ca: MailCa, probe: object) -> None:
    check = _check(probe, smtp_starttls, "smtp", mail_ca.ca_file, "mail.test")
    result = await probe(check, CTX)  # type: ignore[operator]
    assert result.success, result.message
    assert "mail.test" in result.tls.sans and result.tls.version.startswith("TLSv1.")


def _check(probe: object, port: int, protocol: str, ca_file: str, name: str) -> TcpCheck | TlsCheck:
    settings = {"starttls": protocol, "ca_file": ca_file, "server_name": name}
    if probe is tcp.probe:
        return _tcp(port, **settings)
    return TlsCheck.model_validate(
        {"name": "t", "target": f"127.0.0.1:{port}", "timeout": 3, **settings}
    )


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("probe", [tcp.probe, tls.probe], ids=["tcp", "tls"])
async def test_dovecot_starttls(
    dovecot: Dovecot, mail_ca: MailCa, protocol: str, probe: object
) -> None:
    port = dovecot.imap if protocol == "imap" else dovecot.pop3
    result = await probe(_check(probe, port, protocol, mail_ca.ca_file, "mail.test"), CTX)  # type: ignore[operator]
    assert result.success, result.message
    assert result.tls.not_after > 0 and "mail.test" in result.tls.sans


@pytest.mark.integration
async def test_starttls_hostname_mismatch(dovecot: Dovecot, mail_ca: MailCa) -> None:
    check = _check(tcp.probe, dovecot.imap, "imap", mail_ca.ca_file, "other.test")
    assert isinstance(check, TcpCheck)
    result = await tcp.probe(check, CTX)
    assert _reason(result) is FailureReason.TLS_HOSTNAME


@pytest.mark.integration
@pytest.mark.parametrize("probe", [tcp.probe, tls.probe], ids=["tcp", "tls"])
async def test_smtp_without_starttls_is_a_protocol_error(
    smtp_plain: int, mail_ca: MailCa, probe: object
) -> None:
    result = await probe(_check(probe, smtp_plain, "smtp", mail_ca.ca_file, "mail.test"), CTX)  # type: ignore[operator]
    assert _reason(result) is FailureReason.PROTOCOL_ERROR
    assert "does not offer STARTTLS" in result.message


@pytest.mark.integration
async def test_imap_starttls_against_a_pop3_port_is_a_protocol_error(
    dovecot: Dovecot, mail_ca: MailCa
) -> None:
    result = await tcp.probe(_tcp(dovecot.pop3, starttls="imap", ca_file=mail_ca.ca_file), CTX)
    assert _reason(result) is FailureReason.PROTOCOL_ERROR
    assert result.message == "IMAP: want * OK, got '+OK Dovecot (Debian) ready.'"


BAD = [
    (
        "no-port",
        "target: 127.0.0.1",
        "field 'target': bad target '127.0.0.1': write host:port, e.g. mail.example.com:25",
    ),
    (
        "both-tls",
        "target: a.test:25\n  tls: true\n  starttls: smtp",
        "tls: true is TLS from the first byte; starttls upgrades a plain connection: set one of them",
    ),
    (
        "bad-starttls",
        "target: a.test:25\n  starttls: ftp",
        "field 'starttls': Input should be 'smtp', 'imap' or 'pop3'",
    ),
    (
        "bad-regex",
        "target: a.test:22\n  query_response: [{expect: '('}]",
        "field 'query_response.0.expect': bad regex '(': missing ), unterminated subpattern at position 0",
    ),
    (
        "two-in-step",
        "target: a.test:22\n  query_response: [{expect: a, send: b}]",
        "field 'query_response.0': write one of send: or expect: per step",
    ),
    (
        "name-without-tls",
        "target: a.test:22\n  server_name: b.test",
        "server_name and ca_file need tls: true or starttls",
    ),
]


@pytest.mark.parametrize(
    ("extra", "message"), [(e, m) for _, e, m in BAD], ids=[i for i, *_ in BAD]
)
def test_bad_config(extra: str, message: str) -> None:
    body = f"checks:\n- name: t\n  type: tcp\n  {extra}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(body, "checks.yaml")
    assert len(info.value.problems) == 1
    assert info.value.problems[0].endswith(f"check 't': {message}"), info.value.problems


def test_good_config() -> None:
    config = parse_config(
        textwrap.dedent("""\
        checks:
        - name: mail
          type: tcp
          target: mail.example.com:587
          starttls: smtp
        - name: ssh
          type: tcp
          target: "[2001:db8::1]:22"
          query_response: [{expect: "^SSH-2.0-"}]
        """),
        "checks.yaml",
    )
    mail, ssh = config.checks
    assert isinstance(mail, TcpCheck) and mail.secure and mail.sni == "mail.example.com"
    assert isinstance(ssh, TcpCheck) and ssh.address == ("2001:db8::1", 22)
