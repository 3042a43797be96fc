"""DMARC (RFC 7489): find the policy that applies to a domain, parse it and
judge it against what the check requires.

Discovery follows §6.6.3: the record at `_dmarc.<domain>`, else the one at
`_dmarc.<organizational domain>`, which the Public Suffix List names
(§3.2). The list comes from the `publicsuffixlist` package, which ships a
snapshot: nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from agent.probes.email_auth.records import Finding, Lookup, RecordError, parse_tags

POLICY_ORDER = ("none", "quarantine", "reject")
"""DMARC policies, laxest first."""

_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):([^!\s]+)(?:!\d+[kmgtKMGT]?)?$")
_MAILBOX = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@([A-Za-z0-9.-]+)$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_FO = frozenset({"0", "1", "d", "s"})
_ALIGNMENT = ("r", "s")


@functools.cache
def _suffix_list() -> object:
    from publicsuffixlist import PublicSuffixList  # noqa: PLC0415 - loaded on first use

    return PublicSuffixList()  # reads the snapshot the package ships


def organizational_domain(domain: str) -> str:
    """RFC 7489 §3.2: the public suffix plus one label (the domain itself
    when it is a public suffix, or shorter)."""
    found = _suffix_list().privatesuffix(domain.lower())  # type: ignore[attr-defined]
    return str(found) if found else domain.lower()


@dataclass(frozen=True)
class Dmarc:
    """A parsed DMARC record (defaults of §6.3 applied)."""

    policy: str
    subdomain_policy: str | None
    pct: int
    rua: tuple[str, ...]
    ruf: tuple[str, ...]


def is_dmarc(text: str) -> bool:
    """Whether a TXT record at `_dmarc.` is a DMARC record: `v=DMARC1` first,
    exactly (§6.6.3 step 3 discards every other record)."""
    return re.match(r"^v\s*=\s*DMARC1\s*(;|$)", text) is not None


def parse_dmarc(text: str) -> Dmarc:
    """Parse a DMARC record; raises RecordError on the first bad tag.
    Unknown tags are ignored (§6.3)."""
    tags = parse_tags(text)
    if next(iter(tags.items()), None) != ("v", "DMARC1"):
        raise RecordError("v=DMARC1 must be the first tag")
    if "p" not in tags:
        raise RecordError("no p= tag")
    policy, sub = _policy(tags, "p"), _policy(tags, "sp") if "sp" in tags else None
    for tag in ("adkim", "aspf"):
        if tags.get(tag, "r").lower() not in _ALIGNMENT:
            raise RecordError(f"{tag}={tags[tag]}: use r or s")
    if not set(tags.get("fo", "0").split(":")) <= _FO:
        raise RecordError(f"fo={tags['fo']}: use 0, 1, d or s, joined by ':'")
    pct = tags.get("pct", "100")
    if not pct.isdigit() or int(pct) > 100:
        raise RecordError(f"pct={pct}: use a whole number from 0 to 100")
    return Dmarc(policy, sub, int(pct), _uris(tags.get("rua")), _uris(tags.get("ruf")))


def _policy(tags: dict[str, str], tag: str) -> str:
    value = tags[tag].lower()
    if value not in POLICY_ORDER:
        raise RecordError(f"{tag}={tags[tag]}: use none, quarantine or reject")
    return value


def _uris(value: str | None) -> tuple[str, ...]:
    return () if value is None else tuple(uri.strip() for uri in value.split(","))


def uri_problem(uri: str) -> str | None:
    """Why a `rua`/`ruf` entry is not a usable DMARC URI (§6.4: a URI with
    an optional `!size`; reports are defined for `mailto:` only), else None."""
    match = _URI.match(uri)
    if match is None:
        return f"{uri!r} is not a URI: write mailto:reports@example.com"
    if match.group(1).lower() != "mailto":
        return f"{uri!r}: reports are sent by mail only, use a mailto: URI"
    mailbox = _MAILBOX.match(match.group(2))
    labels = mailbox.group(1).rstrip(".").split(".") if mailbox else []
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return f"{uri!r}: {match.group(2)!r} is not a mail address"
    return None


def policy_at_least(got: str, want: str) -> bool:
    """Whether DMARC policy `got` is at least as strict as `want`."""
    return POLICY_ORDER.index(got) >= POLICY_ORDER.index(want)


@dataclass(frozen=True)
class Discovered:
    """Where the policy for a domain was found, and its records there."""

    location: str
    records: tuple[str, ...]

    def inherited(self, domain: str) -> bool:
        """Whether the record is the organizational domain's, not the domain's."""
        return self.location != domain


async def discover(domain: str, lookup: Lookup) -> Discovered:
    """§6.6.3: `_dmarc.<domain>`, else `_dmarc.<organizational domain>` when
    the domain has no DMARC record (not when it has several)."""
    records = tuple(t for t in await lookup(f"_dmarc.{domain}", "TXT") if is_dmarc(t))
    org = organizational_domain(domain)
    if records or org == domain.lower():
        return Discovered(domain, records)
    found = tuple(t for t in await lookup(f"_dmarc.{org}", "TXT") if is_dmarc(t))
    return Discovered(org, found) if found else Discovered(domain, ())


def judge(domain: str, found: Discovered, dmarc: Dmarc, want: str) -> list[Finding]:
    """Every finding about a parsed record; empty when it meets `want`."""
    findings = _policy_findings(domain, found, dmarc, want)
    if not dmarc.rua:
        findings.append(Finding("dmarc.rua", "no rua=: nobody gets reports"))
    for tag, uris in (("rua", dmarc.rua), ("ruf", dmarc.ruf)):
        findings += [Finding(f"dmarc.{tag}_uri", p) for u in uris if (p := uri_problem(u))]
    return findings


def _policy_findings(domain: str, found: Discovered, dmarc: Dmarc, want: str) -> list[Finding]:
    inherited = found.inherited(domain)
    tag = "sp" if inherited and dmarc.subdomain_policy else "p"
    policy = dmarc.subdomain_policy if tag == "sp" and dmarc.subdomain_policy else dmarc.policy
    where = f" (from _dmarc.{found.location})" if inherited else ""
    findings = []
    if not policy_at_least(policy, want):
        findings.append(Finding("dmarc.policy", f"{tag}={policy}{where} < {want}"))
    elif dmarc.pct < 100 and policy != "none" and not policy_at_least(_lower(policy), want):
        # §6.6.4: mail left out of the sample gets the next policy down.
        message = (
            f"{tag}={policy} with pct={dmarc.pct}{where}: {100 - dmarc.pct}% of failing mail "
            f"gets {_lower(policy)}, want {want} for all"
        )
        findings.append(Finding("dmarc.policy", message))
    sub = dmarc.subdomain_policy
    if not inherited and sub is not None and not policy_at_least(sub, want):
        message = f"sp={sub} < {want}: failing mail from subdomains of {domain} is let through"
        findings.append(Finding("dmarc.subdomain_policy", message))
    return findings


def _lower(policy: str) -> str:
    return POLICY_ORDER[max(0, POLICY_ORDER.index(policy) - 1)]
