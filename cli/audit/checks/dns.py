"""DNS findings: missing hosts, dangling CNAMEs, stale environments, CAA."""

from __future__ import annotations

from cli.audit.facts import Facts, HostFacts
from cli.audit.model import Finding, finding
from cli.audit.rules import Severity


def check(facts: Facts) -> list[Finding]:
    """DNS findings for the main and stale hosts."""
    out: list[Finding] = []
    for host in facts.hosts:
        out += _missing(host) + _dangling(host)
    for host in facts.stale:
        if host.resolves and not facts.by_wildcard(host):
            records = ", ".join(_shown(host)) or "resolves"
            out.append(finding("dns.stale_host_resolves", host.name, f"{host.name}: {records}"))
            out += _dangling(host)
    apex = next((h for h in facts.hosts if h.role == "apex"), None)
    return out + (_caa(apex) if apex is not None and apex.resolves else [])


def _caa(apex: HostFacts) -> list[Finding]:
    # Only an answered query counts: a failed one says nothing about CAA.
    caa = apex.dns.get("CAA")
    if caa is None or caa.rcode != "NOERROR" or caa.answers:
        return []
    return [finding("dns.caa_missing", apex.name, f"CAA {apex.name}: no records")]


def _shown(host: HostFacts) -> list[str]:
    return [f"{t} {a}" for t in ("CNAME", "A", "AAAA") for a in host.records(t)]


def _missing(host: HostFacts) -> list[Finding]:
    if host.resolves:
        return []
    answer = host.dns.get("A")
    if answer is None or not answer.rcode:
        # No answer says nothing about a subdomain. For the apex it means
        # the audit saw nothing at all, and "ship" would be a guess.
        severity = Severity.BLOCKER if host.role == "apex" else None
        evidence = f"A {host.name}: no answer from DNS"
        return [finding("dns.lookup_failed", host.name, evidence, severity=severity)]
    rcode = answer.rcode
    # The apex is the site: without it nothing else matters.
    severity = Severity.BLOCKER if host.role == "apex" else None
    evidence = f"A/AAAA/CNAME {host.name}: {rcode}, no records"
    return [finding("dns.host_missing", host.name, evidence, severity=severity)]


def _dangling(host: HostFacts) -> list[Finding]:
    if host.cname_target_rcode != "NXDOMAIN":
        return []
    target = host.records("CNAME")[0]
    return [finding("dns.dangling_cname", host.name, f"{host.name} CNAME {target}: NXDOMAIN")]
