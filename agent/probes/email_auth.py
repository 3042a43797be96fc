"""The `email_auth` probe: lint a domain's SPF, DMARC and DKIM records.

Each finding is a named assertion (`spf.lookup_limit`, `dmarc.policy`,
`dkim.<selector>.key_bits`, …); the rules live in `emailauth_rules`, and this
module only fetches TXT records and records what the rules say. A lookup that
fails outright fails the probe with the DNS reason instead.
"""

from __future__ import annotations

import asyncio
import time

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
from agent.probes.emailauth_rules import (
    LOOKUP_LIMIT,
    RecordError,
    all_at_least,
    is_dmarc,
    is_spf,
    parse_dkim_key,
    parse_dmarc,
    parse_spf,
    policy_at_least,
    walk_spf,
)
from common.config.email_auth import EmailAuthCheck
from vantage.v1 import vantage_pb2 as pb


class LookupFailed(Exception):
    """A TXT lookup got no usable answer; `cause` is the library's error."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(f"TXT {name}: {cause}")
        self.name = name
        self.cause = cause


class _TxtLookup:
    """TXT lookups against one server, all within one deadline."""

    def __init__(self, where: tuple[str, int], deadline: float) -> None:
        self.where = where
        self.deadline = deadline

    async def __call__(self, name: str) -> list[str]:
        try:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise dns.exception.Timeout
            response, _ = await query(name, "TXT", self.where, left)
        except (dns.exception.DNSException, OSError) as exc:
            raise LookupFailed(name, exc) from exc
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise LookupFailed(name, DnsAnswerError(name, dns.rcode.to_text(response.rcode())))
        return answers(response, "TXT")


def classify(exc: BaseException) -> Failure:
    """The error mapper: the shared table, plus the name looked up."""
    if isinstance(exc, LookupFailed):
        reason, message = classify_query(exc.cause)
        return reason, f"TXT {exc.name}: {message}"
    return classify_query(exc)


async def probe(check: EmailAuthCheck, ctx: ProbeContext) -> pb.Result:
    """Fetch and lint SPF, DMARC and every DKIM selector of `check.domain`."""
    result = new_result(check, ctx)
    started = time.monotonic()
    try:
        lookup = _TxtLookup(resolve_server(check.server), started + check.timeout)
        await _lint(result, check, lookup)
    except (LookupFailed, dns.exception.DNSException) as exc:
        return fail(result, *classify(exc))
    finally:
        result.phases.resolve = time.monotonic() - started
        result.duration_seconds = time.monotonic() - started
    return finish_assertions(result)


async def _lint(result: pb.Result, check: EmailAuthCheck, lookup: _TxtLookup) -> None:
    domain = check.domain
    dkim_names = [f"{selector}._domainkey.{domain}" for selector in check.dkim_selectors]
    spf, dmarc, *dkim = await _all(lookup, [domain, f"_dmarc.{domain}", *dkim_names])
    await _lint_spf(result, domain, spf, lookup, check.expect.spf_all)
    _lint_dmarc(result, domain, dmarc, check.expect.dmarc_policy)
    for selector, name, texts in zip(check.dkim_selectors, dkim_names, dkim, strict=True):
        _lint_dkim(result, selector, name, texts, check.expect.dkim_min_bits)


async def _all(lookup: _TxtLookup, names: list[str]) -> list[list[str]]:
    """Look up all names at once; the first failure is raised only after
    every lookup ended, so none is left running unobserved."""
    found = await asyncio.gather(*(lookup(name) for name in names), return_exceptions=True)
    for item in found:
        if isinstance(item, BaseException):
            raise item
    return [item for item in found if not isinstance(item, BaseException)]


async def _lint_spf(
    result: pb.Result, domain: str, texts: list[str], lookup: _TxtLookup, want_all: str
) -> None:
    records = [text for text in texts if is_spf(text)]
    count = len(records)
    if not assert_that(result, "spf.single_record", count == 1, f"{count} v=spf1 records, want 1"):
        return
    try:
        spf = parse_spf(records[0])
    except RecordError as exc:
        assert_that(result, "spf.syntax", False, str(exc))
        return
    assert_that(result, "spf.syntax", True, "")
    walk = await walk_spf(domain, spf, lookup)
    lookups = walk.lookups
    assert_that(result, "spf.lookup_limit", lookups <= LOOKUP_LIMIT, f"{lookups} > {LOOKUP_LIMIT}")
    assert_that(result, "spf.includes", not walk.problems, "; ".join(walk.problems))
    got = walk.all_qualifier
    ok = all_at_least(got, want_all)
    assert_that(result, "spf.all_policy", ok, f"{got} is laxer than {want_all}")


def _lint_dmarc(result: pb.Result, domain: str, texts: list[str], want: str) -> None:
    records = [text for text in texts if is_dmarc(text)]
    if not assert_that(result, "dmarc.present", bool(records), f"no record at _dmarc.{domain}"):
        return
    try:
        if len(records) > 1:
            raise RecordError(f"{len(records)} records, want 1")
        tags = parse_dmarc(records[0])
    except RecordError as exc:
        assert_that(result, "dmarc.syntax", False, str(exc))
        return
    assert_that(result, "dmarc.syntax", True, "")
    policy = tags["p"].lower()
    assert_that(result, "dmarc.policy", policy_at_least(policy, want), f"{policy} < {want}")
    assert_that(result, "dmarc.rua", bool(tags.get("rua")), "no rua=: nobody gets reports")


def _lint_dkim(
    result: pb.Result, selector: str, name: str, texts: list[str], min_bits: int
) -> None:
    label = f"dkim.{selector}"
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
