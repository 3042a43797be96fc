"""`--write-checks`: a checks.yaml that keeps watching what the audit found.

The checks state how things should be, so on a domain with findings some of
them fail until the findings are fixed: hosts answer over https with HSTS,
http ends on https within two redirects, certificates are valid for 14 days
more, stale names are NXDOMAIN, email auth holds, exposed files are gone,
and the routes carry the SLO the audit measured against. The file is
validated with the config loader before it is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from cli.audit.facts import Facts, HostFacts
from cli.audit.model import Report
from cli.audit.web_rules import map_secrets, secret_exposed
from common.config import parse_config

_NAME_CUT = 63


def _name(prefix: str, rest: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{prefix}-{rest}").strip("-.")
    return text[:_NAME_CUT]


def build(facts: Facts, report: Report) -> dict[str, Any]:
    """The checks file as data."""
    options = facts.options
    tls_extra = {"ca_file": options.ca_file} if options.ca_file else {}
    dns_extra = {"server": options.dns_server} if options.dns_server else {}
    canonical = report.canonical
    checks: list[dict[str, Any]] = []
    for host in facts.hosts:
        if host.resolves:
            checks += _host_checks(host, canonical, tls_extra, dns_extra)
    checks += [
        {"name": _name("stale", h.name), "type": "dns", "query_name": h.name, "record": "A",
         "expect": {"rcode": "NXDOMAIN"}, **dns_extra}
        for h in facts.stale
        # Under a wildcard record every name resolves: NXDOMAIN can never hold.
        if (h.resolves or h.name.split(".")[0] in options.stale) and not facts.by_wildcard(h)
    ]  # fmt: skip
    checks.append(_email(facts, dns_extra))
    for url in facts.routes:
        path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
        checks.append({
            "name": _name("route", path or "home"), "type": "http", "url": url,
            "expect": {"status": ["2xx"]},
            "slo": {"p95_warning": "500ms", "p95_critical": "800ms", "error_ratio": 0.01},
            **tls_extra,
        })  # fmt: skip
    return {"defaults": {"interval": "60s", "timeout": "10s"}, "checks": checks}


def _host_checks(
    host: HostFacts, canonical: str | None, tls_extra: dict[str, str], dns_extra: dict[str, str]
) -> list[dict[str, Any]]:
    record = "A" if host.records("A") or not host.records("AAAA") else "AAAA"
    target = canonical if host.role in ("apex", "www") and canonical else host.name
    checks: list[dict[str, Any]] = [
        {"name": _name("dns", host.name), "type": "dns", "query_name": host.name, "record": record,
         "expect": {"min_answers": 1}, **dns_extra},
        {"name": _name("http", host.name), "type": "http", "url": f"http://{host.name}/",
         "redirects": {"max": 2, "expect_final_url": f"https://{target}/"},
         "expect": {"status": ["2xx", "3xx", "4xx"]},
         **tls_extra},
        {"name": _name("tls", host.name), "type": "tls", "target": f"{host.name}:443",
         "expect": {"min_days_valid": 14}, **tls_extra},
    ]  # fmt: skip
    if host.serves_content and host.home is not None:
        seen = host.home.status or 200
        checks.append({
            "name": _name("site", host.name), "type": "http", "url": f"https://{host.name}/",
            "expect": {"status": [str(seen) if 200 <= seen < 500 else "2xx"],
                       "headers": {"Strict-Transport-Security": {"regex": "max-age=[1-9]"}}},
            **tls_extra,
        })  # fmt: skip
    exposed = [page.url for path, page in host.secret_pages.items()
               if secret_exposed(path, page, host.spa_baseline)]  # fmt: skip
    exposed += [page.url for page in host.source_maps if map_secrets(page)]
    for url in exposed:
        path = url.split("/", 3)[3]
        extra = tls_extra if url.startswith("https:") else {}
        checks.append({
            "name": _name("gone", f"{host.name}/{path}"), "type": "http",
            "url": url, "expect": {"status": ["4xx"]}, **extra,
        })  # fmt: skip
    return checks


def _email(facts: Facts, dns_extra: dict[str, str]) -> dict[str, Any]:
    domain = facts.options.domain
    check: dict[str, Any] = {"name": _name("email", domain), "type": "email_auth", "domain": domain}
    if facts.dkim_found:
        check["dkim_selectors"] = list(facts.dkim_found)
    return {**check, **dns_extra}


def write_checks(facts: Facts, report: Report, path: Path) -> int:
    """Write the file (validated first); the number of checks."""
    header = f"# Written by `vantage audit {report.domain}` at {report.generated_at}.\n"
    text = header + yaml.safe_dump(build(facts, report), sort_keys=False, width=120)
    config = parse_config(text, source=str(path))
    path.write_text(text, encoding="utf-8")
    return len(config.checks)
