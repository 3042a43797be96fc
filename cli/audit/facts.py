"""What the audit collected, as plain data the checks read. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cli.audit.net import DnsAnswer, Page
from cli.overrides import Overrides
from vantage.v1 import vantage_pb2 as pb

MAP_TYPES = ("A", "AAAA", "CNAME", "NS", "MX", "CAA")
"""Record types in the DNS map, per host."""
PROBE_PATH = "/vantage-audit/launch-check?from=audit"
"""A deep link with a query: redirects must keep both."""


@dataclass(frozen=True)
class Options:
    """What to audit and how (the command line, parsed)."""

    domain: str
    subdomains: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    dkim_selectors: tuple[str, ...] = ()
    routes: tuple[str, ...] = ("/",)
    samples: int = 20
    overrides: Overrides = field(default_factory=Overrides)
    dns_server: str | None = None
    ca_file: str | None = None
    repo: Path | None = None
    timeout: float = 10.0

    @property
    def main_hosts(self) -> list[tuple[str, str]]:
        """(name, role) of the hosts that must serve the launch."""
        subs = [(f"{s}.{self.domain}", "subdomain") for s in self.subdomains if s != "www"]
        return [(self.domain, "apex"), (f"www.{self.domain}", "www"), *subs]


@dataclass
class HostFacts:
    """Everything seen about one host."""

    name: str
    role: str
    dns: dict[str, DnsAnswer] = field(default_factory=dict)
    cname_target_rcode: str | None = None
    cname_target_addresses: tuple[str, ...] = ()
    """Addresses of the CNAME target, asked for when the server did not chase
    it (an authoritative server does not follow a CNAME out of its zone)."""
    http_probe: Page | None = None
    """http://host/PROBE_PATH, redirects followed."""
    https_root: Page | None = None
    """https://host/, not followed: HSTS and whether the host redirects."""
    https_probe: Page | None = None
    """https://host/PROBE_PATH, redirects followed."""
    home: Page | None = None
    """The page this host serves at /, when it serves one itself."""
    tls: pb.Result | None = None
    ocsp: tuple[bool, bool] | None = None
    caa: tuple[str, ...] = ()
    assets: list[Page] = field(default_factory=list)
    secret_pages: dict[str, Page] = field(default_factory=dict)
    spa_baseline: Page | None = None
    """A random path: what the host answers for anything."""
    source_maps: list[Page] = field(default_factory=list)

    def records(self, rdtype: str) -> tuple[str, ...]:
        """Answers of one type (empty when not asked or none)."""
        answer = self.dns.get(rdtype)
        return answer.answers if answer else ()

    @property
    def addresses(self) -> tuple[str, ...]:
        """A and AAAA answers, the CNAME target's when the server did not chase it."""
        return self.records("A") + self.records("AAAA") + self.cname_target_addresses

    @property
    def resolves(self) -> bool:
        """Whether the name has an address or an alias publicly."""
        return bool(self.addresses or self.records("CNAME"))

    @property
    def reachable(self) -> bool:
        """Whether the name leads to an address anyone could connect to."""
        return bool(self.addresses)

    @property
    def serves_content(self) -> bool:
        """Whether https://host/ answers with a page rather than a redirect
        to another host."""
        return self.home is not None and self.home.status is not None


@dataclass
class Facts:
    """The whole collection."""

    options: Options
    hosts: list[HostFacts]
    stale: list[HostFacts]
    collected_at: float = 0.0
    """Unix time of the collection: what certificate lifetimes are judged by."""
    wildcard: tuple[str, ...] = ()
    """Addresses a random name gets: a wildcard record answers every name."""
    email: pb.Result | None = None
    dkim_found: tuple[str, ...] = ()
    spf: tuple[str, ...] = ()
    routes: dict[str, list[Page]] = field(default_factory=dict)

    def by_wildcard(self, host: HostFacts) -> bool:
        """Whether a name answers only as a random name does: a wildcard
        record, which proves nothing about an old environment."""
        wild = self.wildcard
        return bool(wild) and set(host.addresses) == set(wild) and not host.records("CNAME")

    def stale_to_scan(self) -> list[HostFacts]:
        """Stale hosts to look for secret files on: each one with records of
        its own, and one name for the wildcard (all of those answer alike)."""
        reachable = [h for h in self.stale if h.reachable]
        own = [h for h in reachable if not self.by_wildcard(h)]
        return own + [h for h in reachable if self.by_wildcard(h)][:1]

    def host(self, name: str) -> HostFacts | None:
        """The facts of a main host."""
        return next((h for h in self.hosts if h.name == name), None)

    @property
    def canonical(self) -> str | None:
        """The host apex and www end on over https (apex first)."""
        for role in ("apex", "www"):
            host = next((h for h in self.hosts if h.role == role), None)
            page = host.https_probe if host else None
            if page is not None and page.status is not None:
                return urlsplit(page.final_url).hostname
        return None
