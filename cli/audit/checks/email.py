"""Email findings: MX, the `email_auth` probe's assertions (SPF, DMARC,
DKIM) turned into findings, DKIM presence, and whether the SPF record covers
the provider the MX and DKIM point at."""

from __future__ import annotations

from agent.probes.email_auth.records import RecordError
from agent.probes.email_auth.spf import all_at_least, is_spf, parse_spf
from cli.audit.facts import Facts
from cli.audit.model import Finding, finding
from cli.audit.rules import Severity
from common.reasons import FailureReason

_BY_ASSERTION = {
    "spf.single_record": "email.spf_invalid",
    "spf.syntax": "email.spf_invalid",
    "spf.lookup_limit": "email.spf_invalid",
    "spf.includes": "email.spf_invalid",
    "spf.void_lookup_limit": "email.spf_invalid",
    "spf.all_policy": "email.spf_weak",
    "spf.networks": "email.spf_weak",
    "dmarc.present": "email.dmarc_missing",
    "dmarc.syntax": "email.dmarc_invalid",
    "dmarc.policy": "email.dmarc_weak",
    "dmarc.subdomain_policy": "email.dmarc_weak",
    "dmarc.rua": "email.dmarc_no_reports",
    "dmarc.rua_uri": "email.dmarc_no_reports",
    "dmarc.ruf_uri": "email.dmarc_no_reports",
}
"""Probe assertion -> finding id; names not listed map by prefix (`spf.*`
to email.spf_invalid, `dmarc.*` to email.dmarc_weak, `dkim.*` to
email.dkim_invalid), so new probe rules still surface."""
_BY_PREFIX = {"spf": "email.spf_invalid", "dmarc": "email.dmarc_weak", "dkim": "email.dkim_invalid"}

PROVIDERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    # (name, MX suffixes, SPF includes (any one covers it), DKIM selectors)
    ("Google Workspace", ("google.com", "googlemail.com"), ("_spf.google.com",), ("google",)),
    (
        "Microsoft 365",
        ("mail.protection.outlook.com",),
        ("spf.protection.outlook.com",),
        ("selector1", "selector2"),
    ),
    ("Zoho", ("zoho.com", "zoho.eu"), ("zoho.com", "zoho.eu", "zohomail.com"), ("zoho",)),
    ("Fastmail", ("messagingengine.com",), ("spf.messagingengine.com",), ("fm1", "fm2", "fm3")),
    ("Proton", ("protonmail.ch",), ("_spf.protonmail.ch",), ("protonmail",)),
    ("Mailgun", ("mailgun.org",), ("mailgun.org",), ()),
    ("Mandrill", (), ("spf.mandrillapp.com",), ("mandrill",)),
)
"""Mail providers as DNS shows them."""


def check(facts: Facts) -> list[Finding]:
    """Email findings for the apex domain."""
    domain = facts.options.domain
    apex = next((h for h in facts.hosts if h.role == "apex"), None)
    mx = apex.records("MX") if apex else ()
    out = []
    if apex is not None and not mx and apex.dns.get("MX") and apex.dns["MX"].rcode:
        out.append(finding("email.mx_missing", domain, f"MX {domain}: no records"))
    out += _probe(facts)
    if not facts.dkim_found and not _sends_no_mail(facts.spf):
        out.append(finding("email.dkim_missing", domain, "no key at the given or common selectors"))
    out += _alignment(domain, mx, facts.spf, facts.dkim_found)
    return out


def _probe(facts: Facts) -> list[Finding]:
    result = facts.email
    domain = facts.options.domain
    if result is None:
        return []
    reason = FailureReason.from_proto(result.reason)
    if not result.success and reason is not FailureReason.ASSERTION:
        failed = finding("email.lookup_failed", domain, f"{reason.value}: {result.message}")
        return [failed, *_own_all(domain, facts.spf)]
    out = []
    for item in result.assertions:
        if item.ok:
            continue
        rule = _BY_ASSERTION.get(item.name) or _BY_PREFIX.get(
            item.name.split(".")[0], "email.spf_invalid"
        )
        severity = _severity(rule, item.message)
        if item.message.startswith("0 ") and item.name == "spf.single_record":
            rule, severity = "email.spf_missing", None
        if item.message.startswith("0 ") and item.name.startswith("dkim."):
            rule, severity = "email.dkim_missing", None  # a given selector with no key
        out.append(finding(rule, domain, f"{item.name}: {item.message}", severity=severity))
    return out


def _sends_no_mail(spf: tuple[str, ...]) -> bool:
    """A domain that declares it sends no mail (SPF `v=spf1 -all`) has
    nothing to sign: no DKIM key is right for it."""
    records = [t.lower().split() for t in spf if t.lower().startswith("v=spf1")]
    return records == [["v=spf1", "-all"]]


def _own_all(domain: str, texts: tuple[str, ...]) -> list[Finding]:
    """The SPF record's own `all`, judged with the probe's parser when the
    probe could not finish (an include that did not answer): `+all` lets
    anyone send whatever the includes say."""
    records = [t for t in texts if is_spf(t)]
    try:
        got = parse_spf(records[0]).all_qualifier() if len(records) == 1 else None
    except RecordError:
        return []
    if got is None or all_at_least(got, "~all"):
        return []
    message = f"{got} is laxer than ~all"
    return [
        finding(
            "email.spf_weak",
            domain,
            f"spf.all_policy: {message}",
            severity=_severity("email.spf_weak", message),
        )
    ]


def _severity(rule: str, message: str) -> Severity | None:
    # A neutral SPF (?all) is weak; +all lets the whole internet send.
    if rule == "email.spf_weak" and message.startswith("?all"):
        return Severity.MEDIUM
    return None


def _alignment(
    domain: str, mx: tuple[str, ...], spf: tuple[str, ...], selectors: tuple[str, ...]
) -> list[Finding]:
    record = next((t for t in spf if t.lower().startswith("v=spf1")), None)
    if record is None:
        return []
    includes = {
        w.split(":", 1)[1].lower()
        for w in record.split()
        if w.lower().lstrip("+~?-").startswith("include:")
    }
    out = []
    for name, mx_suffixes, spf_names, dkim in PROVIDERS:
        by_mx = any(m.lower().rstrip(".").endswith(s) for m in mx for s in mx_suffixes)
        by_dkim = any(s in selectors for s in dkim)
        if (by_mx or by_dkim) and not any(i.endswith(s) for i in includes for s in spf_names):
            via = "MX" if by_mx else "DKIM selector"
            evidence = f"{name} ({via}) but SPF {domain}: {record}"
            out.append(finding("email.provider_not_in_spf", domain, evidence))
    return out
