"""The report for a ticket: Markdown tables and task-list checkboxes."""

from __future__ import annotations

from cli.audit.model import Report
from cli.audit.render.common import headline, hosts_label

_TYPES = ("A", "AAAA", "CNAME", "NS", "MX", "CAA")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "-"


def render(report: Report) -> str:
    """Verdict, ranked risks, checklist, DNS map, hosts and routes."""
    out = [f"# Launch audit: {report.domain}", "", f"**{headline(report)}**", ""]
    if report.canonical:
        out += [f"Canonical host: `{report.canonical}`", ""]
    out += [
        "## Risks, ranked",
        "",
        "| # | severity | id | finding | hosts | evidence |",
        "|---|---|---|---|---|---|",
    ]
    for n, f in enumerate(report.findings, 1):
        evidence = "<br>".join(_cell(e) for e in f.evidence[:5])
        out.append(
            f"| {n} | {f.severity.value} | `{f.id}` | {_cell(f.title)} | {_cell(hosts_label(f))}"
            f" | {evidence} |"
        )
    out += ["", "## Go-live checklist", ""]
    for label, blocker in (("Blockers", True), ("Non-blockers", False)):
        items = [f for f in report.findings if f.blocker is blocker]
        out += [f"### {label} ({len(items)})", ""]
        out += [f"- [ ] **{f.title}** ({hosts_label(f)}): {f.fix}" for f in items] or ["- none"]
        out.append("")
    out += [
        "## DNS map",
        "",
        "| name | role | " + " | ".join(_TYPES) + " |",
        "|---" * (len(_TYPES) + 2) + "|",
    ]
    for row in report.dns_map:
        cells = [_cell(", ".join(row.records.get(t, ()))) for t in _TYPES]
        out.append(f"| {row.name} | {row.role} | " + " | ".join(cells) + " |")
    out += [
        "",
        "## Hosts",
        "",
        "| host | https | edge | TLS | expires | issuer |",
        "|---|---|---|---|---|---|",
    ]
    for h in report.hosts:
        tls = h.tls
        out.append(
            f"| {h.name} | {h.https_status or '-'} | {h.edge or 'none'}"
            f" | {tls.get('version') or '-'}"
            f" | {tls.get('not_after') or '-'} | {_cell(str(tls.get('issuer') or ''))} |"
        )
    if report.routes:
        out += [
            "",
            "## Routes",
            "",
            "| route | samples | p50 | p95 | errors |",
            "|---|---|---|---|---|",
        ]
        for r in report.routes:
            p50 = f"{r.p50_ms:.0f} ms" if r.p50_ms is not None else "-"
            p95 = f"{r.p95_ms:.0f} ms" if r.p95_ms is not None else "-"
            out.append(f"| {r.url} | {r.samples} | {p50} | {p95} | {r.error_ratio:.0%} |")
    return "\n".join(out) + "\n"
