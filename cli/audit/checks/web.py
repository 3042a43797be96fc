"""Findings about what the hosts serve: availability, secret files, mixed
content, security headers, cookies, version leaks, caching and the edge."""

from __future__ import annotations

import re

from cli.audit import web_rules
from cli.audit.facts import Facts, HostFacts
from cli.audit.model import Finding, finding
from cli.audit.net import Page
from cli.audit.rules import Severity

_VERSION = re.compile(r"\d+\.\d+")


def check(facts: Facts) -> list[Finding]:
    """Web findings for every main host, plus secrets on stale hosts."""
    out: list[Finding] = []
    for host in facts.hosts:
        if not host.reachable:
            continue
        out += _down(host)
        if host.serves_content:
            assert host.home is not None
            out += _page(host.name, host.home) + _assets(host) + _edge(host)
        out += _secret_files(host) + _source_maps(host)
    for host in facts.stale_to_scan():
        out += _secret_files(host)
    for pages in facts.routes.values():
        if pages and pages[0].status is not None:
            out += _mixed(_host_of(facts), pages[0])
    return out


def _host_of(facts: Facts) -> str:
    return facts.canonical or facts.options.domain


def _down(host: HostFacts) -> list[Finding]:
    page = host.home or host.https_root
    if page is None or page.error.startswith("dns_"):
        return []  # the name does not lead anywhere: the DNS findings say so
    if page.error == "redirect_loop":
        return []  # the redirect findings name the loop or the chain
    if page.status is None and host.tls is not None and not host.tls.success:
        return []  # no HTTPS at all: the TLS finding names why
    if page.status is None or page.status >= 500:
        # The launch hosts must answer; a subdomain may be an API without /.
        severity = None if host.role in ("apex", "www") else Severity.HIGH
        what = f"{page.error}: {page.message}" if page.status is None else f"status {page.status}"
        return [finding("web.host_down", host.name, f"GET {page.url}: {what}", severity=severity)]
    return []


def _page(name: str, page: Page) -> list[Finding]:
    return _mixed(name, page) + _headers(name, page) + _cookies(name, page) + _leaks(name, page)


def _mixed(name: str, page: Page) -> list[Finding]:
    found = web_rules.mixed_content(page)
    if not found:
        return []
    active = any(tag in web_rules.ACTIVE_TAGS for tag, _ in found)
    evidence = [f"{page.url}: <{tag}> {url}" for tag, url in found]
    return [
        finding("web.mixed_content", name, *evidence, severity=None if active else Severity.MEDIUM)
    ]


def _headers(name: str, page: Page) -> list[Finding]:
    csp = page.header("Content-Security-Policy") or ""
    missing = []
    if not csp and page.header("X-Frame-Options") is None:
        missing.append("Content-Security-Policy (or X-Frame-Options)")
    if (page.header("X-Content-Type-Options") or "").lower() != "nosniff":
        missing.append("X-Content-Type-Options: nosniff")
    if page.header("Referrer-Policy") is None:
        missing.append("Referrer-Policy")
    if not missing:
        return []
    severity = Severity.MEDIUM if missing[0].startswith("Content") else Severity.LOW
    evidence = f"{page.url}: missing " + ", ".join(missing)
    return [finding("web.security_headers_missing", name, evidence, severity=severity)]


def _cookies(name: str, page: Page) -> list[Finding]:
    out = []
    cookies = page.header_all("Set-Cookie")
    for cookie in cookies:
        flags = {p.strip().split("=")[0].lower() for p in cookie.split(";")[1:]}
        lacking = [f for f in ("secure", "httponly") if f not in flags]
        if lacking:
            cookie_name = cookie.split("=", 1)[0].strip()
            evidence = f"Set-Cookie {cookie_name}: no {' or '.join(lacking)}"
            out.append(finding("web.cookie_insecure", name, evidence))
    if cookies and web_rules.shared_cacheable(page):
        evidence = f"{page.url}: Cache-Control: {page.header('Cache-Control')} with Set-Cookie"
        out.append(finding("web.html_cached_with_cookies", name, evidence))
    return out


def _leaks(name: str, page: Page) -> list[Finding]:
    shown = [
        f"{header}: {value}"
        for header in ("Server", "X-Powered-By", "X-AspNet-Version", "X-Generator")
        if (value := page.header(header)) and (header != "Server" or _VERSION.search(value))
    ]
    return [finding("web.version_leak", name, *shown)] if shown else []


def _assets(host: HostFacts) -> list[Finding]:
    served = [a for a in host.assets if a.status == 200]
    bad = [a for a in served if not web_rules.cacheable(a)]
    evidence = [f"{a.url}: Cache-Control: {a.header('Cache-Control') or '(none)'}" for a in bad]
    if bad:
        return [finding("web.assets_uncached", host.name, *evidence)]
    # Cached, but with nothing to revalidate against once the max-age ends.
    blind = [a.url for a in served if not (a.header("ETag") or a.header("Last-Modified"))]
    evidence = [f"{url}: no ETag or Last-Modified" for url in blind]
    return (
        [finding("web.assets_uncached", host.name, *evidence, severity=Severity.LOW)]
        if blind
        else []
    )


def _edge(host: HostFacts) -> list[Finding]:
    if web_rules.edge(host.home, host.records("CNAME")):
        return []
    server = host.home.header("Server") if host.home else None
    return [
        finding(
            "edge.none", host.name, f"{host.name}: no CDN header or CNAME (Server: {server or '-'})"
        )
    ]


def _secret_files(host: HostFacts) -> list[Finding]:
    hits = [
        f"GET {page.url}: {page.status}, {len(page.body)} bytes that read as {path.lstrip('/')}"
        for path, page in host.secret_pages.items()
        if web_rules.secret_exposed(path, page, host.spa_baseline)
    ]
    return [finding("web.secret_file_exposed", host.name, *hits)] if hits else []


def _source_maps(host: HostFacts) -> list[Finding]:
    out = []
    for page in host.source_maps:
        sources = web_rules.source_map_sources(page) if page.status == 200 else []
        if not sources and not (page.status == 200 and b'"mappings"' in page.body):
            continue
        hits = web_rules.map_secrets(page)
        if hits:
            shown = [f"{page.url}: {kind} {masked}" for kind, masked in hits]
            out.append(finding("web.secret_file_exposed", host.name, *shown))
        else:
            out.append(finding("web.source_map_exposed", host.name, page.url))
    return out
