"""One audit from options to report: collect, check, scan the repo, rank."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cli.audit import web_rules
from cli.audit.checks import run_checks
from cli.audit.checks.perf import stats
from cli.audit.collect import collect
from cli.audit.facts import MAP_TYPES, Facts, HostFacts, Options
from cli.audit.model import DnsRow, Finding, HostDetail, Report, finding, rank
from cli.audit.net import Net
from cli.audit.secrets_scan import scan_repo

_SHOWN_HEADERS = (
    "Server", "Strict-Transport-Security", "Content-Security-Policy", "X-Content-Type-Options",
    "Referrer-Policy", "Cache-Control",
)  # fmt: skip


async def audit(
    options: Options, progress: Callable[[], None] = lambda: None
) -> tuple[Report, Facts]:
    """Run the audit; the report and the facts it was made from."""
    started = time.monotonic()
    net = Net(options.overrides, options.timeout, on_done=progress)
    try:
        facts = await collect(options, net)
    finally:
        await net.close()
    findings = run_checks(facts)
    if options.repo is not None:
        findings += await asyncio.to_thread(repo_findings, options)
    report = Report(
        domain=options.domain,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        duration_seconds=round(time.monotonic() - started, 2),
        findings=tuple(rank(findings)),
        dns_map=tuple(_dns_row(h) for h in [*facts.hosts, *(s for s in facts.stale if s.resolves)]),
        hosts=tuple(_detail(h) for h in facts.hosts if h.reachable),
        routes=tuple(stats(url, pages) for url, pages in facts.routes.items()),
        canonical=facts.canonical,
    )
    return report, facts


def repo_findings(options: Options) -> list[Finding]:
    """One finding per secret in the repository."""
    assert options.repo is not None
    label = f"repo:{options.repo.name or options.repo}"
    return [finding(hit.rule, label, hit.evidence()) for hit in scan_repo(options.repo)]


def _dns_row(host: HostFacts) -> DnsRow:
    records = {t: host.records(t) for t in MAP_TYPES if t in host.dns}
    return DnsRow(host.name, host.role, records)


def _detail(host: HostFacts) -> HostDetail:
    page = host.home or host.https_root
    tls: dict[str, object] = {}
    if host.tls is not None and host.tls.tls.issuer:
        facts = host.tls.tls
        tls = {
            "issuer": facts.issuer,
            "subject": facts.subject,
            "sans": list(facts.sans),
            "version": facts.version,
            "not_after": datetime.fromtimestamp(facts.not_after, UTC).strftime("%Y-%m-%d"),
            "ocsp_stapled": host.ocsp[0] if host.ocsp else None,
        }
    headers = {h: v for h in _SHOWN_HEADERS if page is not None and (v := page.header(h))}
    return HostDetail(
        name=host.name,
        role=host.role,
        addresses=host.addresses,
        https_status=page.status if page is not None else None,
        edge=web_rules.edge(host.home, host.records("CNAME")),
        tls=tls,
        headers=headers,
    )
