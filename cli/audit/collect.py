"""Gather the facts, concurrently within the `Net` bound: the DNS map, each
host over http and https, TLS through the agent's `tls` probe, email auth
through its `email_auth` probe, then a sequential latency sample per route.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import urljoin, urlsplit

from agent.probe_kit.base import ProbeContext
from agent.runner import run_probe
from cli.audit import web_rules
from cli.audit.facts import MAP_TYPES, PROBE_PATH, Facts, HostFacts, Options
from cli.audit.net import Net, Page
from cli.overrides import aim
from common.config.email_auth import EmailAuthCheck
from common.config.tls import TlsCheck, TlsExpect
from vantage.v1 import vantage_pb2 as pb

STALE_FORMS = (
    "staging", "stg", "stage", "dev", "develop", "test", "testing", "qa", "uat",
    "old", "beta", "preview", "demo", "sandbox", "preprod",
)  # fmt: skip
"""Names of old environments tried on every audit, besides `--stale`."""
COMMON_SELECTORS = (
    "google", "selector1", "selector2", "default", "dkim", "mail", "k1", "k2", "s1", "s2",
    "fm1", "fm2", "fm3", "mandrill", "smtp", "zoho", "protonmail", "mxvault",
)  # fmt: skip
"""DKIM selectors of common providers, tried besides `--dkim-selectors`."""
_MAX_ASSETS = 6
_GIVE_UP = 3


async def collect(options: Options, net: Net) -> Facts:
    """Everything the checks need about `options.domain`."""
    hosts = [HostFacts(name, role) for name, role in options.main_hosts]
    stale = [HostFacts(f"{n}.{options.domain}", "stale") for n in _stale_names(options)]
    facts = Facts(options, hosts, stale, collected_at=time.time())
    wildcard = f"vantage-{secrets.token_hex(4)}.{options.domain}"
    _, random_name = await asyncio.gather(
        asyncio.gather(
            *(_dns(net, h, MAP_TYPES) for h in hosts),
            *(_dns(net, h, ("A", "AAAA", "CNAME")) for h in stale),
        ),
        net.dns(wildcard, "A"),
    )
    facts.wildcard = random_name.answers
    _climb_caa(facts)
    await asyncio.gather(
        *(_web(net, h, options) for h in hosts if h.reachable),
        *(_secrets(net, h, options.domain) for h in facts.stale_to_scan()),
        _email(net, facts),
    )
    canonical = facts.canonical
    if canonical:
        facts.routes = await _sample_routes(net, canonical, options)
    return facts


PAIRED_FORMS = ("staging", "stg", "dev", "test")
"""Stale forms also tried joined to a host name (`staging-api`, `api-dev`)."""
PAIRED_HOSTS = ("api", "app", "www")


def _stale_names(options: Options) -> list[str]:
    taken = {"www", *options.subdomains}
    forms = dict.fromkeys([*options.stale, *PAIRED_FORMS])
    hosts = dict.fromkeys([*options.subdomains, *PAIRED_HOSTS])
    paired = [n for f in forms for h in hosts for n in (f"{f}-{h}", f"{h}-{f}")]
    names = dict.fromkeys([*options.stale, *STALE_FORMS, *paired])
    return [n for n in names if n not in taken and len(n.split(".")[0]) <= 63]


async def _dns(net: Net, host: HostFacts, types: tuple[str, ...]) -> None:
    answers = await asyncio.gather(*(net.dns(host.name, t) for t in types))
    host.dns = dict(zip(types, answers, strict=True))
    cnames = host.records("CNAME")
    if cnames and not host.addresses:
        # An alias with no address: ask for the target itself, so a target
        # that does not exist (takeover bait) is told from one we cannot see.
        target = await net.dns(cnames[0], "A")
        host.cname_target_rcode, host.cname_target_addresses = target.rcode, target.answers


def _climb_caa(facts: Facts) -> None:
    # RFC 8659: the closest name with CAA records governs; here the host,
    # then the apex.
    apex = next((h for h in facts.hosts if h.role == "apex"), None)
    for host in facts.hosts:
        host.caa = host.records("CAA") or (apex.records("CAA") if apex else ())


async def _web(net: Net, host: HostFacts, options: Options) -> None:
    """HTTP, HTTPS and TLS facts of one main host."""
    base = f"https://{host.name}"
    results = await asyncio.gather(
        net.get(f"http://{host.name}{PROBE_PATH}", follow=True),
        net.get(f"{base}/"),
        net.get(f"{base}{PROBE_PATH}", follow=True),
        net.bounded(_tls(net, host, options)),
        net.ocsp(host.name),
    )
    host.http_probe, host.https_root, host.https_probe, host.tls, host.ocsp = results
    host.home = await _home(net, host)
    # Every host: a redirect on / alone, or plain HTTP only, can still serve files.
    await asyncio.gather(
        _secrets(net, host, options.domain), *([_assets(net, host)] if host.serves_content else [])
    )


async def _home(net: Net, host: HostFacts) -> Page | None:
    root = host.https_root
    if root is None or root.status is None:
        return None
    if root.status not in (301, 302, 303, 307, 308):
        return root
    location = urljoin(root.url, root.header("Location") or "/")
    if urlsplit(location).hostname != host.name:
        return None  # it hands visitors to another host: that one is judged
    return await net.get(f"https://{host.name}/", follow=True)


async def _tls(net: Net, host: HostFacts, options: Options) -> pb.Result:
    """The agent's `tls` probe, aimed like the rest of the audit."""
    check = TlsCheck(
        name="audit-tls",
        target=f"{host.name}:443",
        ca_file=options.ca_file,
        timeout=options.timeout,
        expect=TlsExpect(min_days_valid=0),
    )
    ctx = ProbeContext("audit", "audit", env={}, nameserver=net.overrides.dns_server)
    return await run_probe(aim(check, net.overrides), ctx)


async def _secrets(net: Net, host: HostFacts, domain: str) -> None:
    base, random_path = f"https://{host.name}", f"/vantage-{secrets.token_hex(6)}.txt"
    baseline = await net.get(base + random_path)
    if baseline.status is None:
        # No HTTPS at all: what plain HTTP serves is just as public.
        base = f"http://{host.name}"
        baseline = await net.get(base + random_path)
    paths = web_rules.secret_paths(domain)
    pages = await asyncio.gather(*(net.get(base + p) for p in paths))
    host.spa_baseline = baseline
    host.secret_pages = dict(zip(paths, pages, strict=True))


async def _assets(net: Net, host: HostFacts) -> None:
    assert host.home is not None
    urls = web_rules.asset_urls(host.home)
    same_site = [u for u in urls if urlsplit(u).hostname == host.name][:_MAX_ASSETS]
    host.assets = list(await asyncio.gather(*(net.get(u) for u in same_site)))
    scripts = [a for a in host.assets if a.status == 200 and web_rules.is_script(a)]
    maps = [web_rules.source_map_url(s) for s in scripts]
    host.source_maps = list(await asyncio.gather(*(net.get(m) for m in maps if m)))


async def _email(net: Net, facts: Facts) -> None:
    options = facts.options
    domain = options.domain
    common = [s for s in COMMON_SELECTORS if s not in options.dkim_selectors]
    texts = await asyncio.gather(*(net.dns(f"{s}._domainkey.{domain}", "TXT") for s in common))
    found = [s for s, t in zip(common, texts, strict=True) if any("p=" in a for a in t.answers)]
    facts.dkim_found = (*options.dkim_selectors, *found)
    facts.spf = (await net.dns(domain, "TXT")).answers
    check = EmailAuthCheck(
        name="audit-email",
        domain=domain,
        dkim_selectors=facts.dkim_found,
        server=options.dns_server,
        timeout=options.timeout,
    )
    facts.email = await net.bounded(run_probe(check, ProbeContext("audit", "audit", env={})))


async def _sample_routes(net: Net, host: str, options: Options) -> dict[str, list[Page]]:
    """`samples` GETs per route, one after another: a measurement, not a load."""
    routes: dict[str, list[Page]] = {}
    for route in options.routes:
        url = f"https://{host}{route if route.startswith('/') else '/' + route}"
        routes[url] = await _sample(net, url, options.samples)
    return routes


async def _sample(net: Net, url: str, samples: int) -> list[Page]:
    """Up to `samples` GETs; three unanswered in a row end it early, so a
    route that hangs costs three timeouts, not `samples` of them."""
    pages: list[Page] = []
    while len(pages) < samples and not _stuck(pages):
        pages.append(await net.get_now(url, follow=True))
        net.on_done()
    return pages


def _stuck(pages: list[Page]) -> bool:
    return len(pages) >= _GIVE_UP and all(p.status is None for p in pages[-_GIVE_UP:])
