"""Performance findings from the sequential samples per route: p95 against
500 ms and the error ratio (5xx, timeouts, connection failures) against 1 %."""

from __future__ import annotations

import statistics

from cli.audit.facts import Facts
from cli.audit.model import Finding, RouteStats, finding
from cli.audit.net import Page
from collector.stats.window import p95

P95_BUDGET = 0.5
"""Seconds; the collector's default SLO warning level."""
ERROR_BUDGET = 0.01


def stats(url: str, pages: list[Page]) -> RouteStats:
    """p50/p95 of the answered samples, and the error counts."""
    answered = [p.elapsed for p in pages if p.status is not None]
    server_errors = sum(p.status is not None and p.status >= 500 for p in pages)
    timeouts = sum(p.error in ("timeout", "connect_timeout") for p in pages)
    failed = sum(p.status is None for p in pages)
    ratio = (server_errors + failed) / len(pages) if pages else 0.0
    return RouteStats(
        url,
        len(pages),
        statistics.median(answered) * 1000 if answered else None,
        p95(answered) * 1000 if answered else None,
        ratio,
        server_errors,
        timeouts,
    )


def check(facts: Facts) -> list[Finding]:
    """Budget findings per route on the canonical host."""
    host = facts.canonical or facts.options.domain
    out = []
    for url, pages in facts.routes.items():
        route = stats(url, pages)
        if route.p95_ms is not None and route.p95_ms > P95_BUDGET * 1000:
            out.append(
                finding(
                    "perf.p95_over_budget",
                    host,
                    f"{url}: p95 {route.p95_ms:.0f} ms over {route.samples} requests",
                )
            )
        if route.error_ratio > ERROR_BUDGET:
            counted = f"{route.server_errors} 5xx, {route.timeouts} timeouts of {route.samples}"
            evidence = f"{url}: {route.error_ratio:.0%} errors ({counted})"
            out.append(finding("perf.errors_over_budget", host, evidence))
        failing = [p.status for p in pages if p.status is not None and 400 <= p.status < 500]
        if failing and len(failing) == len(pages):
            out.append(finding("web.route_failing", host, f"{url}: status {failing[0]}"))
    return out
