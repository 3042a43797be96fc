"""The checks as pure functions: facts in, findings out, table-driven."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.probe_kit.http_expect import Hop
from cli.audit import collect
from cli.audit.checks import dns, email, perf, redirects, tls, web
from cli.audit.facts import PROBE_PATH, Facts, HostFacts, Options
from cli.audit.net import DnsAnswer, Page
from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb

NOW = 1_800_000_000.0
DAY = 86400.0


def facts(*hosts: HostFacts) -> Facts:
    return Facts(Options("x.test"), list(hosts), [], collected_at=NOW)


def tls_host(
    days: float, reason: FailureReason = FailureReason.NONE, caa: tuple[str, ...] = ()
) -> HostFacts:
    result = pb.Result(success=reason is FailureReason.NONE, message="m")
    result.reason = reason.to_proto()
    result.tls.not_after = NOW + days * DAY
    result.tls.issuer = "CN=R11,O=Let's Encrypt,C=US"
    return HostFacts("www.x.test", "www", tls=result, caa=caa)


@pytest.mark.parametrize(
    ("days", "expected"),
    [(3, "blocker"), (6.9, "blocker"), (7.1, "high"), (13.9, "high"), (14.1, None), (90, None)],
    ids=str,
)
def test_days_left_decide_the_severity(days: float, expected: str | None) -> None:
    found = [(f.id, f.severity.value) for f in tls.check(facts(tls_host(days)))]
    assert found == ([("tls.expiring", expected)] if expected else [])


@pytest.mark.parametrize(
    ("reason", "rule"),
    [
        (FailureReason.TLS_HOSTNAME, "tls.hostname_mismatch"),
        (FailureReason.TLS_VERIFY, "tls.untrusted"),
        (FailureReason.TLS_VERSION, "tls.old_version"),
        (FailureReason.CONNECT_REFUSED, "tls.unavailable"),
        (FailureReason.TLS_HANDSHAKE, "tls.unavailable"),
    ],
    ids=str,
)
def test_failed_handshakes(reason: FailureReason, rule: str) -> None:
    assert [f.id for f in tls.check(facts(tls_host(90, reason)))] == [rule]


def test_expired_is_one_finding_and_caa_must_allow_the_issuer() -> None:
    assert [f.id for f in tls.check(facts(tls_host(-1, FailureReason.TLS_EXPIRED)))] == [
        "tls.expired"
    ]
    host = tls_host(90, caa=('0 issue "pki.goog"',))
    assert [f.id for f in tls.check(facts(host))] == ["tls.caa_forbids_issuer"]


def page(url: str, status: int, chain: list[tuple[int, str]], final: str, **headers: str) -> Page:
    hops, at = [], url
    for code, location in chain:
        hops.append(Hop(code, at, location))
        at = location
    return Page(url, status, tuple(headers.items()), b"", tuple(hops), final)


def redirect_host(http: Page) -> HostFacts:
    root = page(
        "https://x.test/",
        200,
        [],
        "https://x.test/",
        **{"Strict-Transport-Security": "max-age=31536000"},
    )
    return HostFacts("x.test", "apex", http_probe=http, https_root=root)


@pytest.mark.parametrize(
    ("chain", "final", "expected"),
    [
        ([(301, "https://x.test" + PROBE_PATH)], "https://x.test" + PROBE_PATH, []),
        ([], "http://x.test" + PROBE_PATH, ["redirect.http_not_https"]),
        ([(302, "https://x.test" + PROBE_PATH)], "https://x.test" + PROBE_PATH, ["redirect.not_permanent"]),
        ([(301, "https://x.test/")], "https://x.test/", ["redirect.path_dropped"]),
        (
            [(301, "http://www.x.test" + PROBE_PATH), (301, "https://x.test" + PROBE_PATH),
             (301, "https://www.x.test" + PROBE_PATH)],
            "https://www.x.test" + PROBE_PATH,
            ["redirect.chain_too_long"],
        ),
    ],
    ids=["one-hop", "no-redirect", "temporary", "drops-path", "three-hops"],
)  # fmt: skip
def test_http_redirects(chain: list[tuple[int, str]], final: str, expected: list[str]) -> None:
    http = page("http://x.test" + PROBE_PATH, 200, chain, final)
    assert [f.id for f in redirects.check(facts(redirect_host(http)))] == expected


def samples(elapsed: Sequence[float], statuses: Sequence[int | None]) -> list[Page]:
    return [
        Page("https://x.test/", s, elapsed=e, error="" if s else "timeout")
        for e, s in zip(elapsed, statuses, strict=True)
    ]


def test_route_stats_count_5xx_and_timeouts_as_errors() -> None:
    statuses: list[int | None] = [*([200] * 17), 503, 200, None]
    pages = samples([0.1] * 18 + [0.9, 5.0], statuses)
    stats = perf.stats("https://x.test/", pages)
    assert (stats.samples, stats.server_errors, stats.timeouts) == (20, 1, 1)
    assert stats.error_ratio == pytest.approx(0.1)
    assert stats.p50_ms == pytest.approx(100) and stats.p95_ms == pytest.approx(900)


@pytest.mark.parametrize(
    ("elapsed", "statuses", "expected"),
    [
        ([0.1] * 20, [200] * 20, []),
        ([0.1] * 18 + [0.6, 0.7], [200] * 20, ["perf.p95_over_budget"]),
        ([0.1] * 20, [200] * 19 + [500], ["perf.errors_over_budget"]),
        ([0.1] * 20, [404] * 20, ["web.route_failing"]),
    ],
    ids=["fast", "slow-tail", "one-5xx-in-20", "404"],
)
def test_route_budgets(
    elapsed: list[float], statuses: list[int | None], expected: list[str]
) -> None:
    found = facts()
    found.routes = {"https://x.test/": samples(elapsed, statuses)}
    assert [f.id for f in perf.check(found)] == expected


def test_a_silent_dns_server_is_no_missing_host_but_no_ship_either() -> None:
    # Unanswered is not NXDOMAIN; but with no answer for the apex the audit
    # saw nothing, and exit 0 would wave a blind audit through a pipeline.
    silent = HostFacts("x.test", "apex", dns={"A": DnsAnswer("")})
    silent_sub = HostFacts("api.x.test", "subdomain", dns={"A": DnsAnswer("")})
    gone = HostFacts("x.test", "apex", dns={"A": DnsAnswer("NXDOMAIN")})
    assert [(f.id, f.severity.value) for f in dns.check(facts(silent, silent_sub))] == [
        ("dns.lookup_failed", "blocker"),
        ("dns.lookup_failed", "medium"),
    ]
    assert [(f.id, f.severity.value) for f in dns.check(facts(gone))] == [
        ("dns.host_missing", "blocker")
    ]


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("redirect loop: https://x.test/ -> https://x.test/", "redirect.loop"),
        ("more than 10 redirects: https://x.test/1 -> https://x.test/2", "redirect.chain_too_long"),
    ],
    ids=["loop", "too-many"],
)
def test_a_loop_is_told_from_a_long_chain(message: str, rule: str) -> None:
    looped = Page("https://x.test/", error="redirect_loop", message=message)
    host = HostFacts("x.test", "apex", https_probe=looped)
    assert [f.id for f in redirects.check(facts(host))] == [rule]


def test_a_loop_on_the_home_page_alone_is_a_loop_not_a_host_down() -> None:
    # `/` -> /login -> `/` while deep links answer: the probe path does not
    # loop, the page visitors open does.
    message = (
        "redirect loop: https://api.x.test/ -> https://api.x.test/login -> https://api.x.test/"
    )
    hsts = ("Strict-Transport-Security", "max-age=31536000")
    root = Page("https://api.x.test/", 302, (("Location", "/login"), hsts))
    home = Page("https://api.x.test/", error="redirect_loop", message=message)
    host = HostFacts("api.x.test", "subdomain", https_root=root, home=home)
    host.dns = {"A": DnsAnswer("NOERROR", ("127.0.0.1",))}
    found = redirects.check(facts(host)) + web.check(facts(host))
    assert [(f.id, f.severity.value) for f in found] == [("redirect.loop", "blocker")]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Cache-Control": "public, max-age=31536000", "ETag": '"a1"'}, []),
        ({"Cache-Control": "public, max-age=31536000"}, [("web.assets_uncached", "low")]),
        ({"Cache-Control": "no-store", "ETag": '"a1"'}, [("web.assets_uncached", "medium")]),
        ({"ETag": '"a1"'}, [("web.assets_uncached", "medium")]),
    ],
    ids=["cached", "no-validator", "no-store", "no-cache-control"],
)
def test_static_assets(headers: dict[str, str], expected: list[tuple[str, str]]) -> None:
    asset = Page("https://x.test/app.js", 200, tuple(headers.items()))
    host = HostFacts("x.test", "apex", assets=[asset])
    assert [(f.id, f.severity.value) for f in web._assets(host)] == expected


def test_no_https_answer_is_one_tls_finding_not_a_second_one() -> None:
    refused = Page("https://x.test/", error="connect_refused", message="refused")
    host = tls_host(90, FailureReason.CONNECT_REFUSED)
    host.https_root = refused
    host.dns = {"A": DnsAnswer("NOERROR", ("192.0.2.1",))}
    found = facts(host)
    assert [f.id for f in tls.check(found) + web.check(found)] == ["tls.unavailable"]


class _Route:
    """Answers like a route that hangs (status None) or works; counts calls."""

    def __init__(self, status: int | None) -> None:
        self.status, self.calls = status, 0

    async def get_now(self, url: str, follow: bool = False) -> Page:
        self.calls += 1
        return Page(url, self.status, error="" if self.status else "timeout")

    def on_done(self) -> None:
        pass


@pytest.mark.parametrize(("status", "sent"), [(200, 20), (None, 3)], ids=["works", "hangs"])
async def test_a_hanging_route_costs_three_timeouts_not_twenty(
    status: int | None, sent: int
) -> None:
    route = _Route(status)
    pages = await collect._sample(route, "https://x.test/", 20)  # type: ignore[arg-type]
    assert len(pages) == route.calls == sent


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=31536000", []),
        ("max-age=86400", [("web.hsts_short", "low")]),
        ("max-age=0", [("web.hsts_missing", "medium")]),
    ],
    ids=["year", "day", "zero-turns-it-off"],
)
def test_hsts_max_age(value: str, expected: list[tuple[str, str]]) -> None:
    root = Page("https://x.test/", 200, (("Strict-Transport-Security", value),))
    host = HostFacts("x.test", "apex", https_root=root)
    assert [(f.id, f.severity.value) for f in redirects.check(facts(host))] == expected


def _resolving(name: str, *addresses: str) -> HostFacts:
    return HostFacts(name, "stale", dns={"A": DnsAnswer("NOERROR", addresses)})


def test_a_wildcard_hides_nothing_of_its_own_and_is_scanned_once() -> None:
    # *.x.test answers 192.0.2.1 for every name: old names that get the
    # same answer are no finding; one with records of its own is.
    found = facts()
    found.wildcard = ("192.0.2.1",)
    found.stale = [
        _resolving("staging.x.test", "192.0.2.1"),
        _resolving("dev.x.test", "192.0.2.1"),
        _resolving("stg.x.test", "192.0.2.9"),
    ]
    assert [(f.id, f.hosts) for f in dns.check(found)] == [
        ("dns.stale_host_resolves", ("stg.x.test",))
    ]
    assert [h.name for h in found.stale_to_scan()] == ["stg.x.test", "staging.x.test"]


def test_stale_names_include_forms_joined_to_hosts() -> None:
    names = collect._stale_names(Options("x.test", subdomains=("api", "shop"), stale=("legacy",)))
    assert {"legacy", "stg", "staging-api", "api-staging", "shop-dev", "legacy-app"} <= set(names)
    assert "shop" not in names and "www" not in names and len(names) == len(set(names))


def _email_facts(spf: str, failed: dict[str, str], found: tuple[str, ...]) -> Facts:
    result = pb.Result(success=not failed)
    result.reason = (FailureReason.ASSERTION if failed else FailureReason.NONE).to_proto()
    for name, message in failed.items():
        result.assertions.add(name=name, ok=False, message=message)
    apex = HostFacts("x.test", "apex", dns={"MX": DnsAnswer("NOERROR", ("0 .",))})
    out = facts(apex)
    out.email, out.spf, out.dkim_found = result, (spf,), found
    return out


@pytest.mark.parametrize(
    ("spf", "failed", "found", "expected"),
    [
        ("v=spf1 mx -all", {"dkim.s1.key": "0 TXT records at s1._domainkey.x.test, want 1"},
         ("s1",), [("email.dkim_missing", "medium")]),
        ("v=spf1 mx -all", {"dkim.s1.key_bits": "1024 < 2048"}, ("s1",),
         [("email.dkim_invalid", "medium")]),
        ("v=spf1 mx -all", {}, (), [("email.dkim_missing", "medium")]),
        ("v=spf1 -all", {}, (), []),
    ],
    ids=["given-selector-absent", "weak-key", "no-key", "sends-no-mail"],
)  # fmt: skip
def test_dkim_findings(
    spf: str, failed: dict[str, str], found: tuple[str, ...], expected: list[tuple[str, str]]
) -> None:
    found_ = email.check(_email_facts(spf, failed, found))
    assert [(f.id, f.severity.value) for f in found_] == expected


@pytest.mark.parametrize(
    ("spf", "expected"),
    [
        ("v=spf1 include:_spf.mail.test +all", [("email.spf_weak", "high")]),
        ("v=spf1 include:_spf.mail.test ?all", [("email.spf_weak", "medium")]),
        ("v=spf1 include:_spf.mail.test -all", []),
    ],
    ids=["plus-all", "neutral", "strict"],
)
def test_an_unanswered_include_still_judges_the_records_own_all(
    spf: str, expected: list[tuple[str, str]]
) -> None:
    found = _email_facts(spf, {}, ("s1",))
    assert found.email is not None
    found.email.success = False
    found.email.reason = FailureReason.DNS_REFUSED.to_proto()
    got = [(f.id, f.severity.value) for f in email.check(found)]
    assert got == [("email.lookup_failed", "medium"), *expected]
