"""One self-contained HTML file: inline CSS, no scripts, no external
assets. Verdict and blocker count first, then the ranked risks, the go-live
checklist, the DNS map and the per-host details."""

from __future__ import annotations

from html import escape

from cli.audit.model import Report
from cli.audit.render.common import counts, hosts_label
from cli.audit.rules import Severity

_TYPES = ("A", "AAAA", "CNAME", "NS", "MX", "CAA")
_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;
padding:0 1rem}h1{font-size:1.6rem;margin:0 0 .3rem}
h2{margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.2rem}
.verdict{padding:1rem 1.2rem;border-radius:8px;font-size:1.25rem;font-weight:600;margin:1rem 0}
.ship{background:#e3f6e8;color:#14532d}.fix{background:#fde8e8;color:#7f1d1d}
.counts span{display:inline-block;margin-right:1rem;font-size:.95rem}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{border:1px solid #e2e4ea;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f5f8}code{font-size:.85em}
.sev{font-weight:700;text-transform:uppercase;font-size:.75rem;padding:.1rem .4rem;
border-radius:4px}
.blocker{background:#b91c1c;color:#fff}.high{background:#ea580c;color:#fff}
.medium{background:#facc15;color:#1d2330}.low{background:#cbd5e1;color:#1d2330}
.risk{border:1px solid #e2e4ea;border-radius:6px;padding:.6rem .8rem;margin:.5rem 0}
.risk p{margin:.2rem 0}.ev{font-family:ui-monospace,monospace;font-size:.8rem;color:#374151}
ul.check{list-style:none;padding-left:0}ul.check li{margin:.25rem 0}
"""


def _sev(severity: Severity) -> str:
    return f'<span class="sev {severity.value}">{severity.value}</span>'


def render(report: Report) -> str:
    """The report as one HTML document."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Launch audit: {escape(report.domain)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Launch audit: {escape(report.domain)}</h1>",
        *_verdict(report),
        *_risks(report),
        *_checklist(report),
        *_dns(report),
        *_hosts(report),
        f"<p><small>Generated {escape(report.generated_at)} in {report.duration_seconds:.1f} s"
        " by vantage audit.</small></p></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _verdict(report: Report) -> list[str]:
    blockers = len(report.blockers)
    css = "fix" if blockers else "ship"
    text = (
        f"Fix first: {blockers} blocker{'s' * (blockers != 1)}" if blockers else "Ship: no blockers"
    )
    shown = "".join(f"<span>{_sev(s)} {n}</span>" for s, n in counts(report).items())
    canonical = (
        f"<p>Canonical host: <code>{escape(report.canonical)}</code></p>"
        if report.canonical
        else ""
    )
    return [
        f'<div class="verdict {css}" id="verdict">{text}</div>',
        f'<div class="counts">{shown}</div>',
        canonical,
    ]


def _risks(report: Report) -> list[str]:
    out = ["<h2>Risks, ranked</h2>"]
    for n, f in enumerate(report.findings, 1):
        evidence = "".join(f'<p class="ev">{escape(e)}</p>' for e in f.evidence[:8])
        out.append(
            f'<div class="risk" id="{escape(f.id)}"><p>{n}. {_sev(f.severity)} '
            f"<b>{escape(f.title)}</b>"
            f" <code>{escape(f.id)}</code> &middot; {escape(hosts_label(f, 6))}</p>{evidence}"
            f"<p><b>Why:</b> {escape(f.why)}</p><p><b>Fix:</b> {escape(f.fix)}</p></div>"
        )
    if not report.findings:
        out.append("<p>No findings.</p>")
    return out


def _checklist(report: Report) -> list[str]:
    out = ["<h2>Go-live checklist</h2>"]
    for label, blocker in (("Blockers", True), ("Non-blockers", False)):
        items = [f for f in report.findings if f.blocker is blocker]
        out.append(f'<h3>{label} ({len(items)})</h3><ul class="check">')
        out += [
            f'<li><label><input type="checkbox"> {_sev(f.severity)} {escape(f.title)}'
            f" ({escape(hosts_label(f))})</label></li>"
            for f in items
        ] or ["<li>none</li>"]
        out.append("</ul>")
    return out


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _dns(report: Report) -> list[str]:
    rows = [
        [r.name, r.role, *("\n".join(r.records.get(t, ())) or "-" for t in _TYPES)]
        for r in report.dns_map
    ]
    return ["<h2>DNS map</h2>", _table(["name", "role", *_TYPES], rows)]


def _hosts(report: Report) -> list[str]:
    out = ["<h2>Hosts</h2>"]
    rows = [
        [h.name, str(h.https_status or "-"), h.edge or "none", ", ".join(h.addresses),
         *(str(h.tls.get(k) or "-") for k in ("version", "not_after", "issuer"))]
        for h in report.hosts
    ]  # fmt: skip
    out.append(_table(["host", "https", "edge", "addresses", "TLS", "expires", "issuer"], rows))
    for h in report.hosts:
        if h.headers:
            out.append(f"<h3>{escape(h.name)}</h3>")
            out.append(_table(["header", "value"], [[k, v] for k, v in h.headers.items()]))
    if report.routes:
        rows = [
            [r.url, str(r.samples), f"{r.p50_ms:.0f} ms" if r.p50_ms is not None else "-",
             f"{r.p95_ms:.0f} ms" if r.p95_ms is not None else "-", f"{r.error_ratio:.0%}",
             str(r.server_errors), str(r.timeouts)]
            for r in report.routes
        ]  # fmt: skip
        out += [
            "<h2>Routes</h2>",
            _table(["route", "samples", "p50", "p95", "errors", "5xx", "timeouts"], rows),
        ]
    return out
