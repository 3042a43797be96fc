"""Checks: pure functions from collected facts to findings, one module per
area, listed once here."""

from __future__ import annotations

from collections.abc import Callable

from cli.audit.checks import dns, email, perf, redirects, tls, web
from cli.audit.facts import Facts
from cli.audit.model import Finding

CHECKS: tuple[Callable[[Facts], list[Finding]], ...] = (
    dns.check,
    redirects.check,
    tls.check,
    web.check,
    email.check,
    perf.check,
)


def run_checks(facts: Facts) -> list[Finding]:
    """Every finding of every check, unranked."""
    return [item for check in CHECKS for item in check(facts)]
