"""TLS findings from the agent's `tls` probe result per host, plus OCSP
stapling, the issuer's renewal and CAA."""

from __future__ import annotations

import re

from cli.audit.facts import Facts, HostFacts
from cli.audit.model import Finding, finding
from cli.audit.rules import Severity
from common.reasons import FailureReason

_DAY = 86400.0
_DNS = frozenset(
    {
        FailureReason.DNS_NXDOMAIN,
        FailureReason.DNS_TIMEOUT,
        FailureReason.DNS_ERROR,
        FailureReason.DNS_REFUSED,
    }
)
_BY_REASON = {
    FailureReason.TLS_EXPIRED: "tls.expired",
    FailureReason.TLS_HOSTNAME: "tls.hostname_mismatch",
    FailureReason.TLS_VERIFY: "tls.untrusted",
    FailureReason.TLS_VERSION: "tls.old_version",
}

ISSUERS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    # (pattern on the issuer DN, CAA identifiers, renews by itself)
    (r"O=Let's Encrypt", ("letsencrypt.org",), True),
    (r"O=ZeroSSL", ("sectigo.com", "zerossl.com"), True),
    (r"O=Google Trust Services", ("pki.goog",), True),
    (r"O=Buypass", ("buypass.com", "buypass.no"), True),
    (r"O=SSL Corporation", ("ssl.com",), True),
    (r"O=Amazon", ("amazon.com", "amazontrust.com", "awstrust.com", "amazonaws.com"), True),
    (r"O=Cloudflare", ("digicert.com", "letsencrypt.org", "pki.goog", "ssl.com"), True),
    (r"O=Microsoft Corporation", ("digicert.com", "microsoft.com"), True),
    (r"O=DigiCert", ("digicert.com",), False),
    (r"O=Sectigo", ("sectigo.com", "comodoca.com"), False),
    (r"O=GlobalSign", ("globalsign.com",), False),
    (r"O=Entrust", ("entrust.net",), False),
    (r"O=GoDaddy", ("godaddy.com",), False),
)
"""Known issuers: their CAA names and whether certificates renew without a
person (ACME CAs and managed edge certificates)."""


def check(facts: Facts) -> list[Finding]:
    """TLS findings for every main host that leads to an address."""
    out: list[Finding] = []
    for host in facts.hosts:
        if host.tls is not None:
            out += _validity(host, facts.collected_at) + _extras(host)
    return out


def _validity(host: HostFacts, now: float) -> list[Finding]:
    assert host.tls is not None
    result = host.tls
    reason = FailureReason.from_proto(result.reason)
    if reason in _DNS:
        return []  # the name does not lead anywhere: the DNS findings say so
    if not result.success and reason not in _BY_REASON:
        return [
            finding(
                "tls.unavailable", host.name, f"{host.name}:443: {reason.value}: {result.message}"
            )
        ]
    out = []
    if not result.success:
        out.append(finding(_BY_REASON[reason], host.name, f"{host.name}: {result.message}"))
    if result.tls.not_after and reason is not FailureReason.TLS_EXPIRED:
        days = (result.tls.not_after - now) / _DAY
        if days < 14:
            severity = Severity.BLOCKER if days < 7 else Severity.HIGH
            evidence = f"{host.name}: certificate expires in {days:.1f} days"
            out.append(finding("tls.expiring", host.name, evidence, severity=severity))
    return out


def issuer_info(issuer: str) -> tuple[tuple[str, ...], bool] | None:
    """(CAA identifiers, renews by itself) of a known issuer DN."""
    for pattern, caa, auto in ISSUERS:
        if re.search(pattern, issuer, re.I):
            return caa, auto
    return None


def _extras(host: HostFacts) -> list[Finding]:
    assert host.tls is not None
    issuer = host.tls.tls.issuer
    if not issuer:
        return []
    out = []
    if host.ocsp is not None and host.ocsp[1] and not host.ocsp[0]:
        out.append(
            finding(
                "tls.ocsp_not_stapled", host.name, f"{host.name}: no OCSP response in the handshake"
            )
        )
    known = issuer_info(issuer)
    if known is None or not known[1]:
        out.append(finding("tls.manual_renewal", host.name, f"issuer {issuer}"))
    if caa_forbids(host.caa, issuer):
        shown = "; ".join(host.caa)
        out.append(finding("tls.caa_forbids_issuer", host.name, f"issuer {issuer}; CAA {shown}"))
    return out


def _issuers_allowed(records: tuple[str, ...]) -> list[str]:
    """The CA names of CAA `issue` records (text form, e.g. `0 issue
    "letsencrypt.org"`); `issue ";"` gives "" (no CA at all)."""
    issue = [r.split(None, 2) for r in records]
    return [
        p[2].strip('"').split(";")[0].strip().lower()
        for p in issue
        if len(p) == 3 and p[1].lower() == "issue"
    ]


def caa_allows(records: tuple[str, ...], names: tuple[str, ...]) -> bool:
    """Whether CAA `records` let one of `names` issue; no issue records
    allow everyone."""
    allowed = _issuers_allowed(records)
    return not allowed or any(n in allowed for n in names)


def caa_forbids(records: tuple[str, ...], issuer: str) -> bool:
    """Whether CAA `records` forbid the CA that issued the current
    certificate (its DN). An issuer missing from `ISSUERS` is forbidden when
    every CA the records name is a known one (so not this issuer); a record
    naming a CA the table does not know cannot be judged."""
    allowed = _issuers_allowed(records)
    known = issuer_info(issuer)
    if not allowed or known is not None:
        return known is not None and not caa_allows(records, known[0])
    known_names = {name for _, names, _ in ISSUERS for name in names}
    return all(name in known_names for name in allowed if name)
