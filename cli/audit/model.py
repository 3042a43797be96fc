"""Findings and the report: pure data, ranked, with a verdict.

A check emits one `Finding` per host it looked at; `merge` folds those that
share an id and severity into one finding with every host, so ranking by
severity and then by how many hosts a finding hits is a sort.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cli.audit.rules import RULES, Severity

SCHEMA_VERSION = 1
"""Version of the JSON report's schema (docs/audit.md); bumped only for
changes that break readers."""


@dataclass(frozen=True)
class Finding:
    """One problem: a stable id, its severity, the hosts it hits and what
    was seen there."""

    id: str
    severity: Severity
    hosts: tuple[str, ...]
    evidence: tuple[str, ...]

    @property
    def title(self) -> str:
        """The rule's one-line title."""
        return RULES[self.id].title

    @property
    def why(self) -> str:
        """Why it matters, in one sentence."""
        return RULES[self.id].why

    @property
    def fix(self) -> str:
        """How to fix it."""
        return RULES[self.id].fix

    @property
    def blocker(self) -> bool:
        """Whether it must be fixed before launch."""
        return self.severity is Severity.BLOCKER


def finding(
    rule_id: str, host: str | Iterable[str], *evidence: str, severity: Severity | None = None
) -> Finding:
    """A finding of `rule_id` (KeyError for an unknown id) on `host`; the
    rule's severity unless another is given."""
    hosts = (host,) if isinstance(host, str) else tuple(host)
    return Finding(rule_id, severity or RULES[rule_id].severity, hosts, tuple(evidence))


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """Fold findings with the same id and severity into one; hosts and
    evidence keep their first-seen order without repeats."""
    merged: dict[tuple[str, Severity], tuple[dict[str, None], dict[str, None]]] = {}
    for item in findings:
        hosts, evidence = merged.setdefault((item.id, item.severity), ({}, {}))
        hosts.update(dict.fromkeys(item.hosts))
        evidence.update(dict.fromkeys(item.evidence))
    return [Finding(i, s, tuple(h), tuple(e)) for (i, s), (h, e) in merged.items()]


def rank(findings: Iterable[Finding]) -> list[Finding]:
    """Merged and sorted: severity first, then the number of hosts hit,
    then id, so the order is stable from run to run."""
    return sorted(merge(findings), key=lambda f: (f.severity.rank, -len(f.hosts), f.id))


@dataclass(frozen=True)
class DnsRow:
    """One line of the DNS map: a name and its records by type."""

    name: str
    role: str
    records: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class HostDetail:
    """What the audit saw on one host, for the per-host section."""

    name: str
    role: str
    addresses: tuple[str, ...]
    https_status: int | None
    edge: str | None
    tls: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class RouteStats:
    """The latency sample of one route."""

    url: str
    samples: int
    p50_ms: float | None
    p95_ms: float | None
    error_ratio: float
    server_errors: int
    timeouts: int


@dataclass(frozen=True)
class Report:
    """Everything a renderer needs; `findings` are ranked."""

    domain: str
    generated_at: str
    duration_seconds: float
    findings: tuple[Finding, ...]
    dns_map: tuple[DnsRow, ...] = ()
    hosts: tuple[HostDetail, ...] = ()
    routes: tuple[RouteStats, ...] = ()
    canonical: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def blockers(self) -> list[Finding]:
        """The findings that block the launch."""
        return [f for f in self.findings if f.blocker]

    @property
    def verdict(self) -> str:
        """`ship` when nothing blocks the launch, else `fix first`."""
        return "fix first" if self.blockers else "ship"

    @property
    def exit_code(self) -> int:
        """0 ship, 1 fix first."""
        return 1 if self.blockers else 0
