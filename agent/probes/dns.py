"""The `dns` probe: one query to one server, checked against `expect:`.

The query goes over UDP without EDNS and is retried over TCP when the answer
comes back truncated, so `result.dns.tcp` shows answers that outgrow 512
bytes. Library errors become failure reasons in `failure_reason` only.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.TXT import TXT

from agent.probes.base import ProbeContext, assertion, fail, finish_assertions, new_result
from common.addresses import split_host_port
from common.config.dns import DnsCheck, DnsExpect
from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb


@functools.cache
def _system_nameserver() -> str:
    # Read resolv.conf once per process; only the first server is asked so
    # a result always names the one server that answered.
    nameservers = dns.resolver.Resolver(configure=True).nameservers
    return str(nameservers[0])


def resolve_server(server: str | None) -> tuple[str, int]:
    """The (ip, port) to ask: the configured server, else the system's first."""
    if server is None:
        return _system_nameserver(), 53
    return split_host_port(server, 53)


async def query(
    name: str, rdtype: str, where: tuple[str, int], lifetime: float
) -> tuple[dns.message.Message, bool]:
    """Ask `where` for `name`/`rdtype` within `lifetime` seconds; returns the
    response and whether TCP was needed because UDP came back truncated."""
    message = dns.message.make_query(name, rdtype)
    host, port = where
    # dnspython gives UDP and the TCP retry a timeout each; one bound for both.
    async with asyncio.timeout(lifetime):
        return await dns.asyncquery.udp_with_fallback(message, host, timeout=lifetime, port=port)


def answer_text(rdata: dns.rdata.Rdata) -> str:
    """An answer as text; TXT strings are joined the way SPF and DKIM read
    them, since long records are split into 255-byte strings."""
    if isinstance(rdata, TXT):
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    return rdata.to_text()


def answers(response: dns.message.Message, rdtype: str) -> list[str]:
    """The sorted answers of type `rdtype` (CNAMEs followed on the way are
    left out unless they were asked for)."""
    wanted = dns.rdatatype.from_text(rdtype)
    texts = [answer_text(rd) for rrset in response.answer if rrset.rdtype == wanted for rd in rrset]
    return sorted(texts)


def failure_reason(exc: BaseException) -> tuple[FailureReason, str]:
    """The one place dnspython and socket errors become failure reasons
    (email_auth reuses it)."""
    if isinstance(exc, dns.exception.Timeout | TimeoutError):
        return FailureReason.DNS_TIMEOUT, "no answer before the timeout"
    if isinstance(exc, dns.resolver.NoResolverConfiguration):
        return FailureReason.CONFIG, "no server set and no system resolver configured"
    if isinstance(exc, ConnectionRefusedError):
        return FailureReason.DNS_ERROR, "connection refused by the server"
    text = str(exc) or type(exc).__name__
    return FailureReason.DNS_ERROR, text


async def probe(check: DnsCheck, ctx: ProbeContext) -> pb.Result:
    """Query `check.query_name` and compare the answer with `check.expect`."""
    result = new_result(check, ctx)
    started = time.monotonic()
    try:
        where = resolve_server(check.server)
        result.dns.server = f"{where[0]}:{where[1]}"
        response, tcp = await query(check.qname, check.record, where, check.timeout)
    except (dns.exception.DNSException, OSError) as exc:
        reason, message = failure_reason(exc)
        return fail(result, reason, message)
    finally:
        result.phases.resolve = time.monotonic() - started
        result.duration_seconds = time.monotonic() - started
    result.dns.rcode = dns.rcode.to_text(response.rcode())
    result.dns.tcp = tcp
    result.dns.answers.extend(answers(response, check.record))
    return _judge(result, check)


def _judge(result: pb.Result, check: DnsCheck) -> pb.Result:
    rcode, want = result.dns.rcode, check.expect.rcode
    if not assert_that(result, "dns.rcode", rcode == want, f"{rcode}, want {want}"):
        # A name that is missing, or a server that cannot answer, is a DNS
        # failure; a name that exists when it should not is an assertion.
        if rcode == "NXDOMAIN":
            return fail(result, FailureReason.DNS_NXDOMAIN, f"{check.qname}: no such name")
        if rcode != "NOERROR":
            return fail(result, FailureReason.DNS_ERROR, f"{check.qname}: {rcode}, want {want}")
    got = [_norm(a, check.record) for a in result.dns.answers]
    _assert_answers(result, check.expect, got, check.record)
    return finish_assertions(result)


def assert_that(result: pb.Result, name: str, ok: bool, message: str) -> bool:
    """Record a named assertion; `message` explains a failure and is
    dropped when it passes."""
    return assertion(result, name, ok, "" if ok else message)


def _norm(text: str, record: str) -> str:
    # Names compare without case or the trailing root dot; TXT is data.
    return text if record == "TXT" else text.lower().rstrip(".")


def _assert_answers(result: pb.Result, expect: DnsExpect, got: list[str], record: str) -> None:
    shown = ", ".join(got) or "no answers"
    if expect.answers_equal is not None:
        want = sorted(_norm(a, record) for a in expect.answers_equal)
        message = f"got {shown}, want {', '.join(want)}"
        assert_that(result, "dns.answers_equal", got == want, message)
    if expect.answers_contain is not None:
        missing = [a for a in expect.answers_contain if _norm(a, record) not in got]
        assert_that(
            result, "dns.answers_contain", not missing, f"{', '.join(missing)} not in {shown}"
        )
    if expect.answers_match is not None:
        pattern = re.compile(expect.answers_match)
        bad = [a for a in got if not pattern.search(a)] if got else ["no answers"]
        message = f"{', '.join(bad)} do not match {expect.answers_match!r}"
        assert_that(result, "dns.answers_match", not bad, message)
    if expect.min_answers is not None:
        enough = len(got) >= expect.min_answers
        assert_that(result, "dns.min_answers", enough, f"{len(got)} < {expect.min_answers}")
