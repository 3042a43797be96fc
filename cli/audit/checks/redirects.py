"""Redirect findings: http->https on every host, one canonical host for apex
and www reached in one permanent redirect that keeps path and query, no
long chains or loops, and HSTS on https."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from cli.audit.facts import PROBE_PATH, Facts, HostFacts
from cli.audit.model import Finding, finding
from cli.audit.net import Page

_PERMANENT = (301, 308)
_HSTS_MIN = 15552000  # 180 days, the usual preload floor
_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.I)


def check(facts: Facts) -> list[Finding]:
    """Redirect and HSTS findings for every main host that answers."""
    out: list[Finding] = []
    for host in facts.hosts:
        out += _loops(host) + _http(host) + _hsts(host)
    out += _canonical(facts)
    return out


def _hops(page: Page) -> str:
    path = [page.url, *(urljoin(h.url, h.location) for h in page.chain)]
    return " -> ".join(f"{u}" for u in path)


def _loops(host: HostFacts) -> list[Finding]:
    # The client reports a circle and a chain past its limit alike; only a
    # circle is a loop, a long chain is a long chain.
    # The home page counts too: a host may loop on / alone (a login
    # redirect that sends back to /), and / is what visitors open.
    probes = (host.http_probe, host.https_probe, host.home)
    pages = [p for p in probes if p and p.error == "redirect_loop"]
    return [
        finding(
            "redirect.loop" if "loop" in p.message else "redirect.chain_too_long",
            host.name,
            p.message,
        )
        for p in pages
    ]


def _http(host: HostFacts) -> list[Finding]:
    page = host.http_probe
    if page is None or page.error or page.status is None:
        return []  # nothing listens on port 80: nothing served in the clear
    if not page.final_url.startswith("https://"):
        evidence = f"GET {page.url}: {page.status}, no redirect to https"
        return [finding("redirect.http_not_https", host.name, evidence)]
    out = []
    if len(page.chain) > 2:
        out.append(finding("redirect.chain_too_long", host.name, _hops(page)))
    temporary = [h for h in page.chain if h.status not in _PERMANENT]
    if temporary:
        out.append(
            finding(
                "redirect.not_permanent", host.name, f"{temporary[0].status} {temporary[0].url}"
            )
        )
    if not _kept(page):
        out.append(finding("redirect.path_dropped", host.name, _hops(page)))
    return out


def _kept(page: Page) -> bool:
    final = urlsplit(page.final_url)
    return (final.path + ("?" + final.query if final.query else "")) == PROBE_PATH


def _hsts(host: HostFacts) -> list[Finding]:
    root = host.https_root
    if root is None or root.status is None:
        return []
    value = root.header("Strict-Transport-Security")
    if value is None:
        return [
            finding(
                "web.hsts_missing",
                host.name,
                f"GET {root.url}: {root.status}, no Strict-Transport-Security",
            )
        ]
    match = _MAX_AGE.search(value)
    if match is not None and int(match.group(1)) == 0:
        # max-age=0 tells browsers to forget HSTS: as good as none.
        evidence = f"GET {root.url}: Strict-Transport-Security: {value} (turns HSTS off)"
        return [finding("web.hsts_missing", host.name, evidence)]
    if match is None or int(match.group(1)) < _HSTS_MIN:
        return [finding("web.hsts_short", host.name, f"Strict-Transport-Security: {value}")]
    return []


def _canonical(facts: Facts) -> list[Finding]:
    """Apex and www on https: both end on one host, the other one in a
    single permanent redirect that keeps the path and query."""
    pages = {h.name: h.https_probe for h in facts.hosts if h.role in ("apex", "www")}
    answered = {n: p for n, p in pages.items() if p is not None and p.status is not None}
    finals = {n: urlsplit(p.final_url).hostname for n, p in answered.items()}
    if len(answered) < 2:
        return []
    if len(set(finals.values())) > 1:
        shown = "; ".join(f"https://{n}/ ends on {f}" for n, f in finals.items())
        return [finding("redirect.not_canonical", list(answered), shown)]
    out: list[Finding] = []
    for name, page in answered.items():
        if not page.chain:
            continue  # the canonical host itself
        if len(page.chain) > 1:
            out.append(finding("redirect.chain_too_long", name, _hops(page)))
        if page.chain[0].status not in _PERMANENT:
            out.append(
                finding("redirect.not_permanent", name, f"{page.chain[0].status} {page.url}")
            )
        if not _kept(page):
            out.append(finding("redirect.path_dropped", name, _hops(page)))
    return out
