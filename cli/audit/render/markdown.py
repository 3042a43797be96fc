"""The report for a ticket: Markdown tables and task-list checkboxes."""

from __future__ import annotations

from cli.audit.model import Report
from cli.audit.render.common import headline, hosts_label

_TYPES = ("A", "AAAA", "CNAME", "NS", "MX", "CAA")


def _cell(text: str) -> str:
    # Evidence quotes markup (`<script>`): show it, never let it render.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\n", " ") or "-"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A table of cells already made safe (`_cell`) where they hold text."""
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _ms(value: float | None) -> str:
    return f"{value:.0f} ms" if value is not None else "-"


def render(report: Report) -> str:
    """Verdict, ranked risks, checklist, DNS map, hosts and routes."""
    out = [f"# Launch audit: {report.domain}", "", f"**{headline(report)}**", ""]
    if report.canonical:
        out += [f"Canonical host: `{report.canonical}`", ""]
    risks = [
        [
            str(n),
            f.severity.value,
            f"`{f.id}`",
            _cell(f.title),
            _cell(hosts_label(f)),
            "<br>".join(_cell(e) for e in f.evidence[:5]),
        ]
        for n, f in enumerate(report.findings, 1)
    ]
    out += [
        "## Risks, ranked",
        "",
        *_table(["#", "severity", "id", "finding", "hosts", "evidence"], risks),
    ]
    out += ["", "## Go-live checklist", ""]
    for label, blocker in (("Blockers", True), ("Non-blockers", False)):
        items = [f for f in report.findings if f.blocker is blocker]
        out += [f"### {label} ({len(items)})", ""]
        out += [f"- [ ] **{f.title}** ({hosts_label(f)}): {f.fix}" for f in items] or ["- none"]
        out.append("")
    dns = [
        [r.name, r.role, *(_cell(", ".join(r.records.get(t, ()))) for t in _TYPES)]
        for r in report.dns_map
    ]
    out += ["## DNS map", "", *_table(["name", "role", *_TYPES], dns)]
    hosts = [
        [h.name, str(h.https_status or "-"), h.edge or "none",
         *(_cell(str(h.tls.get(k) or "")) for k in ("version", "not_after", "issuer"))]
        for h in report.hosts
    ]  # fmt: skip
    out += [
        "",
        "## Hosts",
        "",
        *_table(["host", "https", "edge", "TLS", "expires", "issuer"], hosts),
    ]
    if report.routes:
        routes = [
            [r.url, str(r.samples), _ms(r.p50_ms), _ms(r.p95_ms), f"{r.error_ratio:.0%}"]
            for r in report.routes
        ]
        out += ["", "## Routes", "", *_table(["route", "samples", "p50", "p95", "errors"], routes)]
    return "\n".join(out) + "\n"
