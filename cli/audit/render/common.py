"""What every renderer shows the same way: the headline and host lists."""

from __future__ import annotations

from cli.audit.model import Finding, Report
from cli.audit.rules import Severity


def counts(report: Report) -> dict[Severity, int]:
    """Findings per severity, every severity present."""
    return {s: sum(f.severity is s for f in report.findings) for s in Severity}


def headline(report: Report) -> str:
    """`FIX FIRST: 2 blockers, 3 high, ...` or `SHIP: ...`."""
    shown = ", ".join(
        f"{n} {s.value}{'s' if s is Severity.BLOCKER and n != 1 else ''}"
        for s, n in counts(report).items()
    )
    return f"{report.verdict.upper()}: {shown}"


def hosts_label(item: Finding, limit: int = 3) -> str:
    """The hosts a finding hits, shortened past `limit`."""
    more = len(item.hosts) - limit
    return ", ".join(item.hosts[:limit]) + (f" (+{more} more)" if more > 0 else "")
