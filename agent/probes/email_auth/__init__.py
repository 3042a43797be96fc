"""The `email_auth` probe: lint a domain's SPF, DMARC and DKIM records.

Every finding is its own failed assertion (`spf.void_lookup_limit`,
`dmarc.policy`, `dkim.<selector>.key_bits`, ...), so a domain with four
problems shows four; a rule with no finding records one passed assertion.
The rules live in `spf`, `dmarc` and `dkim`; this module only looks records
up and records what the rules found. A lookup of the domain's own record
that fails outright (timeout, SERVFAIL, REFUSED) fails the probe with the
DNS reason instead. One that fails further down (an include's target, a
`_dmarc` or DKIM name) is a finding of its rule, since receivers then get a
temporary error for that part (RFC 7208 §4.4 and §5.2), and the other
parts are still judged: a deploy gate must see everything that is wrong.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, cast

import dns.exception
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
from agent.probes.email_auth.dkim import parse_dkim_key
from agent.probes.email_auth.dmarc import discover, judge, parse_dmarc
from agent.probes.email_auth.records import Finding, RecordError
from agent.probes.email_auth.spf import all_at_least, is_spf, limit_findings, parse_spf, walk_spf
from common.config.email_auth import EmailAuthCheck
from vantage.v1 import vantage_pb2 as pb

SPF_RULES = (
    "spf.single_record",
    "spf.syntax",
    "spf.includes",
    "spf.lookup_limit",
    "spf.void_lookup_limit",
    "spf.networks",
    "spf.all_policy",
)
"""SPF rules in the order their assertions appear."""
DMARC_RULES = (
    "dmarc.present",
    "dmarc.syntax",
    "dmarc.policy",
    "dmarc.subdomain_policy",
    "dmarc.rua",
    "dmarc.rua_uri",
    "dmarc.ruf_uri",
)
"""DMARC rules in the order their assertions appear."""


class LookupFailed(Exception):
    """A lookup got no usable answer; `cause` is the library's error."""

    def __init__(self, name: str, rdtype: str, cause: BaseException) -> None:
        super().__init__(f"{rdtype} {name}: {cause}")
        self.name = name
        self.rdtype = rdtype
        self.cause = cause


class _Lookup:
    """Lookups against one server, all within one deadline."""

    def __init__(self, where: tuple[str, int], deadline: float) -> None:
        self.where = where
        self.deadline = deadline
        self.missing: set[str] = set()
        """Names that answered NXDOMAIN: no record there, unless it is the domain."""

    async def __call__(self, name: str, rdtype: str) -> list[str]:
        try:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise dns.exception.Timeout
            response, _ = await query(name, rdtype, self.where, left)
        except (dns.exception.DNSException, OSError) as exc:
            raise LookupFailed(name, rdtype, exc) from exc
        if response.rcode() == dns.rcode.NXDOMAIN:
            self.missing.add(name)
        elif response.rcode() != dns.rcode.NOERROR:
            rcode = dns.rcode.to_text(response.rcode())
            raise LookupFailed(name, rdtype, DnsAnswerError(name, rcode))
        return answers(response, rdtype)


def classify(exc: BaseException) -> Failure:
    """The error mapper: the shared table, plus the name looked up."""
    if isinstance(exc, LookupFailed):
        reason, message = classify_query(exc.cause)
        return reason, f"{exc.rdtype} {exc.name}: {message}"
    return classify_query(exc)


async def probe(check: EmailAuthCheck, ctx: ProbeContext) -> pb.Result:
    """Fetch and lint SPF, DMARC and every DKIM selector of `check.domain`."""
    result = new_result(check, ctx)
    started = time.monotonic()
    try:
        lookup = _Lookup(resolve_server(check.server), started + check.timeout)
        await _lint(result, check, lookup)
    except (LookupFailed, dns.exception.DNSException) as exc:
        return fail(result, *classify(exc))
    finally:
        result.phases.resolve = time.monotonic() - started
        result.duration_seconds = time.monotonic() - started
    return finish_assertions(result)


async def _lint(result: pb.Result, check: EmailAuthCheck, lookup: _Lookup) -> None:
    domain = check.domain
    dkim_names = [f"{selector}._domainkey.{domain}" for selector in check.dkim_selectors]
    found = await asyncio.gather(
        _unanswered_as_finding(
            _spf_findings(domain, lookup, check.expect.spf_all), "spf.includes", domain
        ),
        _unanswered_as_finding(
            _dmarc_findings(domain, lookup, check.expect.dmarc_policy), "dmarc.present", domain
        ),
        *(lookup(name, "TXT") for name in dkim_names),
        return_exceptions=True,
    )
    # The first failure is raised only after every lookup ended, so none is
    # left running unobserved. A DKIM name without an answer is that
    # selector's finding (below), not the probe's failure.
    for item in found:
        if isinstance(item, BaseException) and not isinstance(item, LookupFailed):
            raise item
    for item in found[:2]:
        if isinstance(item, BaseException):
            raise item
    if domain in lookup.missing:  # no such domain: a DNS fault, not missing records
        raise LookupFailed(domain, "TXT", DnsAnswerError(domain, "NXDOMAIN"))
    spf, dmarc, *dkim = cast(list[Any], found)
    report(result, SPF_RULES, spf)
    report(result, DMARC_RULES, dmarc)
    for selector, name, texts in zip(check.dkim_selectors, dkim_names, dkim, strict=True):
        _lint_dkim(result, selector, name, texts, check.expect.dkim_min_bits)


async def _unanswered_as_finding(
    findings: Awaitable[list[Finding]], rule: str, domain: str
) -> list[Finding]:
    """`findings`, or one finding of `rule` when a name other than the
    domain itself got no answer (the domain's own lookup failing is the
    probe's DNS failure, raised as it is)."""
    try:
        return await findings
    except LookupFailed as exc:
        if exc.name.lower() == domain.lower():
            raise
        reason, message = classify(exc)
        return [Finding(rule, f"{message} ({reason}): receivers get a temporary error")]


def report(result: pb.Result, rules: tuple[str, ...], findings: list[Finding]) -> None:
    """One passed assertion per rule without findings, one failed assertion
    per finding; the rules after a record that does not parse are left out."""
    for rule in rules:
        mine = [f for f in findings if f.rule == rule]
        for finding in mine:
            assert_that(result, rule, False, finding.message)
        if not mine:
            assert_that(result, rule, True, "")
        if mine and rule in _STOPS:
            return  # the rules after it need a record that parses


# Rules after which the record cannot be judged further.
_STOPS = frozenset({"spf.single_record", "spf.syntax", "dmarc.present", "dmarc.syntax"})


async def _spf_findings(domain: str, lookup: _Lookup, want_all: str) -> list[Finding]:
    records = [text for text in await lookup(domain, "TXT") if is_spf(text)]
    if len(records) != 1:
        return [Finding("spf.single_record", f"{len(records)} v=spf1 records, want 1")]
    try:
        spf = parse_spf(records[0])
    except RecordError as exc:
        return [Finding("spf.syntax", str(exc))]
    walk = await walk_spf(domain, spf, lookup)
    findings = walk.findings + limit_findings(walk)
    got = walk.stranger
    if not all_at_least(got, want_all):
        findings.append(Finding("spf.all_policy", f"{got} is laxer than {want_all}"))
    return findings


async def _dmarc_findings(domain: str, lookup: _Lookup, want: str) -> list[Finding]:
    found = await discover(domain, lookup)
    if not found.records:
        return [Finding("dmarc.present", f"no record at _dmarc.{domain} or its organization's")]
    try:
        if len(found.records) > 1:
            raise RecordError(f"{len(found.records)} records at _dmarc.{found.location}, want 1")
        dmarc = parse_dmarc(found.records[0])
    except RecordError as exc:
        return [Finding("dmarc.syntax", str(exc))]
    return judge(domain, found, dmarc, want)


def _lint_dkim(
    result: pb.Result,
    selector: str,
    name: str,
    texts: list[str] | LookupFailed,
    min_bits: int,
) -> None:
    label = f"dkim.{selector}"
    if isinstance(texts, LookupFailed):
        reason, message = classify(texts)
        assert_that(result, f"{label}.key", False, f"{message} ({reason})")
        return
    try:
        if len(texts) != 1:
            raise RecordError(f"{len(texts)} TXT records at {name}, want 1")
        key = parse_dkim_key(texts[0])
    except RecordError as exc:
        assert_that(result, f"{label}.key", False, str(exc))
        return
    assert_that(result, f"{label}.key", True, "")
    if key.key_type == "rsa":
        ok = key.bits >= min_bits
        assert_that(result, f"{label}.key_bits", ok, f"{key.bits} < {min_bits}")
