"""The machine report; its schema is documented in docs/audit.md and
versioned by `schema_version`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cli.audit.model import SCHEMA_VERSION, Finding, Report
from cli.audit.render.common import counts


def finding_json(item: Finding) -> dict[str, Any]:
    """One finding as the schema writes it."""
    return {
        "id": item.id,
        "severity": item.severity.value,
        "title": item.title,
        "hosts": list(item.hosts),
        "evidence": list(item.evidence),
        "why": item.why,
        "fix": item.fix,
    }


def as_data(report: Report) -> dict[str, Any]:
    """The report as JSON-able data."""
    return {
        "schema_version": SCHEMA_VERSION,
        "domain": report.domain,
        "generated_at": report.generated_at,
        "duration_seconds": report.duration_seconds,
        "verdict": report.verdict,
        "exit_code": report.exit_code,
        "counts": {s.value: n for s, n in counts(report).items()},
        "canonical_host": report.canonical,
        "findings": [finding_json(f) for f in report.findings],
        "checklist": {
            "blockers": [f.id for f in report.findings if f.blocker],
            "non_blockers": [f.id for f in report.findings if not f.blocker],
        },
        "dns_map": [dataclasses.asdict(row) for row in report.dns_map],
        "hosts": [dataclasses.asdict(host) for host in report.hosts],
        "routes": [dataclasses.asdict(route) for route in report.routes],
    }


def render(report: Report) -> str:
    """Indented JSON."""
    return json.dumps(as_data(report), indent=2) + "\n"
