"""The terminal report."""

from __future__ import annotations

from cli.audit.model import Report
from cli.audit.render.common import headline, hosts_label


def render(report: Report) -> str:
    """Verdict, ranked risks, checklist, DNS map, hosts and routes as text."""
    lines = [
        f"vantage audit {report.domain}: {headline(report)}  ({report.duration_seconds:.1f} s)"
    ]
    if report.canonical:
        lines.append(f"canonical host: {report.canonical}")
    lines += ["", "Risks, ranked"]
    for n, item in enumerate(report.findings, 1):
        lines.append(
            f"{n:3}. {item.severity.value.upper():8} {item.id}: {item.title} [{hosts_label(item)}]"
        )
        lines += [f"       seen: {e}" for e in item.evidence[:5]]
        lines += [f"       why:  {item.why}", f"       fix:  {item.fix}"]
    if not report.findings:
        lines.append("  none")
    lines += ["", "Go-live checklist"]
    for label, blocker in (("Blockers", True), ("Non-blockers", False)):
        items = [f for f in report.findings if f.blocker is blocker]
        lines.append(f"  {label} ({len(items)})")
        lines += [f"    [ ] {f.title} ({hosts_label(f)})" for f in items]
    lines += ["", "DNS map", *_table(_dns_rows(report))]
    lines += ["", "Hosts", *_table(_host_rows(report))]
    if report.routes:
        lines += ["", "Routes", *_table(_route_rows(report))]
    return "\n".join(lines) + "\n"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def _dns_rows(report: Report) -> list[list[str]]:
    types = ("A", "AAAA", "CNAME", "NS", "MX", "CAA")
    rows = [["name", "role", *types]]
    for row in report.dns_map:
        rows.append(
            [row.name, row.role, *(", ".join(row.records.get(t, ())) or "-" for t in types)]
        )
    return rows


def _host_rows(report: Report) -> list[list[str]]:
    rows = [["host", "https", "edge", "tls", "expires", "issuer"]]
    for host in report.hosts:
        tls = host.tls
        rows.append([
            host.name,
            str(host.https_status or "-"),
            host.edge or "none",
            str(tls.get("version") or "-"),
            str(tls.get("not_after") or "-"),
            str(tls.get("issuer") or "-")[:60],
        ])  # fmt: skip
    return rows


def _route_rows(report: Report) -> list[list[str]]:
    rows = [["route", "samples", "p50", "p95", "errors", "5xx", "timeouts"]]
    for r in report.routes:
        p50 = f"{r.p50_ms:.0f} ms" if r.p50_ms is not None else "-"
        p95 = f"{r.p95_ms:.0f} ms" if r.p95_ms is not None else "-"
        rows.append(
            [
                r.url,
                str(r.samples),
                p50,
                p95,
                f"{r.error_ratio:.0%}",
                str(r.server_errors),
                str(r.timeouts),
            ]
        )
    return rows
