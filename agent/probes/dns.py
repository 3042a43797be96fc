"""The `dns` probe: one query to one server, checked against `expect:`.

The query goes over UDP without EDNS and is retried over TCP when the answer
comes back truncated, so `result.dns.tcp` shows answers that outgrow 512
bytes. Library errors become failure reasons in `classify` only, by the
shared table; A and AAAA answers compare as addresses, not text.
"""

from __future__ import annotations

import ipaddress
import re
import time

import dns.exception
import dns.flags
import dns.rcode

from agent.probe_kit.base import ProbeContext, fail, finish_assertions, new_result
from agent.probe_kit.dns_client import (
    answers,
    assert_that,
    classify_query,
    query,
    resolve_server,
)
from agent.probe_kit.faults import DnsAnswerError, Failure
from common.config.dns import DnsCheck, DnsExpect
from vantage.v1 import vantage_pb2 as pb


def classify(exc: BaseException) -> Failure:
    """The error mapper: dnspython and socket errors, by the shared table."""
    return classify_query(exc)


async def probe(check: DnsCheck, ctx: ProbeContext) -> pb.Result:
    """Query `check.query_name` and compare the answer with `check.expect`."""
    result = new_result(check, ctx)
    started = time.monotonic()
    try:
        where = resolve_server(check.server)
        result.dns.server = f"{where[0]}:{where[1]}"
        dnssec = check.expect.dnssec_validated
        response, tcp = await query(check.qname, check.record, where, check.timeout, dnssec)
    except (dns.exception.DNSException, OSError) as exc:
        return fail(result, *classify(exc))
    finally:
        result.phases.resolve = time.monotonic() - started
        result.duration_seconds = time.monotonic() - started
    result.dns.rcode = dns.rcode.to_text(response.rcode())
    result.dns.tcp = tcp
    result.dns.authenticated = bool(response.flags & dns.flags.AD)
    result.dns.answers.extend(answers(response, check.record))
    return _judge(result, check)


def _judge(result: pb.Result, check: DnsCheck) -> pb.Result:
    rcode, want = result.dns.rcode, check.expect.rcode
    ok = assert_that(result, "dns.rcode", rcode == want, f"{rcode}, want {want}")
    # A name that is missing, or a server that cannot answer, is a DNS
    # failure (REFUSED, NXDOMAIN, SERVFAIL by the shared table); a name
    # that exists when it should not is an assertion.
    if not ok and rcode != "NOERROR":
        reason, message = classify(DnsAnswerError(check.qname, rcode))
        return fail(result, reason, f"{message}, want {want}")
    if check.expect.dnssec_validated:
        why = f"no AD bit from {result.dns.server}: the answer is not DNSSEC-validated"
        assert_that(result, "dns.dnssec_validated", result.dns.authenticated, why)
    got = sorted(_norm(a, check.record) for a in result.dns.answers)
    _assert_answers(result, check.expect, got, check.record)
    return finish_assertions(result)


def _norm(text: str, record: str) -> str:
    # Addresses compare as addresses (2001:DB8::1 is 2001:db8:0::1), names
    # without case or the trailing root dot; TXT is data.
    if record in ("A", "AAAA"):
        try:
            return ipaddress.ip_address(text.strip()).compressed
        except ValueError:
            return text
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
