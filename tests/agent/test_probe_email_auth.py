"""The email_auth probe against knot zones, its pure SPF/DMARC/DKIM rules,
and the email_auth config model."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator

import pytest

from agent.probe_kit.base import ProbeContext
from agent.probes.email_auth import DMARC_RULES, SPF_RULES, probe
from agent.probes.email_auth import dmarc as dmarc_rules
from agent.probes.email_auth.dkim import DkimKey, parse_dkim_key
from agent.probes.email_auth.dmarc import (
    Discovered,
    Dmarc,
    judge,
    organizational_domain,
    parse_dmarc,
    policy_at_least,
    uri_problem,
)
from agent.probes.email_auth.records import Finding, RecordError
from agent.probes.email_auth.spf import all_at_least, parse_spf, walk_spf
from common.config import ConfigError, parse_config
from common.config.email_auth import EmailAuthCheck, EmailAuthExpect
from common.reasons import FailureReason
from common.wire import check_from_proto, check_to_proto
from tests.agent.knot import LONG_SPF, Knot, ed25519_b64, rsa_spki_b64
from vantage.v1 import vantage_pb2 as pb

CTX = ProbeContext("agent-1", "eu-west")


def check(
    server: str, domain: str, selectors: tuple[str, ...] = (), **expect: object
) -> EmailAuthCheck:
    return EmailAuthCheck(
        name="mail",
        domain=domain,
        dkim_selectors=selectors,
        server=server,
        timeout=2,
        expect=EmailAuthExpect.model_validate(expect),
    )


def failed(result: pb.Result) -> dict[str, str]:
    return {a.name: a.message for a in result.assertions if not a.ok}


# --- against knot ---------------------------------------------------------


@pytest.mark.integration
async def test_good_domain_passes_every_rule(knot: Knot) -> None:
    result = await probe(check(knot.server, "good.mail.test", ("s1", "s2")), CTX)
    assert result.success, result.message
    assert [a.name for a in result.assertions] == [
        *SPF_RULES,
        *DMARC_RULES,
        "dkim.s1.key",
        "dkim.s1.key_bits",
        "dkim.s2.key",
    ]
    assert result.phases.resolve > 0


@pytest.mark.integration
async def test_long_spf_split_over_strings_is_joined(knot: Knot) -> None:
    # good.mail.test's SPF is over 255 bytes, so the zone holds two strings
    assert len(LONG_SPF) > 255
    result = await probe(check(knot.server, "good.mail.test", spf_all="-all"), CTX)
    assert result.success, result.message


@pytest.mark.integration
@pytest.mark.parametrize(
    ("domain", "selectors", "expected", "message"),
    [
        ("two-spf.mail.test", (), {"spf.single_record": "2 v=spf1 records, want 1"}, None),
        (
            "deep.mail.test",
            (),
            {
                "spf.lookup_limit": "12 > 10",
                "spf.void_lookup_limit": "7 lookups found nothing (a.deep.mail.test A, "
                "a.deep.mail.test MX, c.deep.mail.test A, c.deep.mail.test MX, "
                "b.deep.mail.test A), limit 2",
            },
            "assertion: spf.lookup_limit: 12 > 10; spf.void_lookup_limit: 7 lookups found nothing "
            "(a.deep.mail.test A, a.deep.mail.test MX, c.deep.mail.test A, c.deep.mail.test MX, "
            "b.deep.mail.test A), limit 2",
        ),
        (
            "no-dmarc.mail.test",
            (),
            {"dmarc.present": "no record at _dmarc.no-dmarc.mail.test or its organization's"},
            None,
        ),
        (
            "p-none.mail.test",
            (),
            {"dmarc.policy": "p=none < quarantine", "dmarc.rua": "no rua=: nobody gets reports"},
            "assertion: dmarc.policy: p=none < quarantine; dmarc.rua: no rua=: nobody gets reports",
        ),
        ("weak-dkim.mail.test", ("s1",), {"dkim.s1.key_bits": "512 < 1024"}, None),
        ("lax.mail.test", (), {"spf.all_policy": "?all is laxer than ~all"}, None),
        (
            "good.mail.test",
            ("gone",),
            {"dkim.gone.key": "0 TXT records at gone._domainkey.good.mail.test, want 1"},
            None,
        ),
    ],
    ids=["two-spf", "too-many-lookups", "no-dmarc", "p-none", "weak-dkim", "no-all", "no-selector"],
)
async def test_broken_domains(
    knot: Knot,
    domain: str,
    selectors: tuple[str, ...],
    expected: dict[str, str],
    message: str | None,
) -> None:
    result = await probe(check(knot.server, domain, selectors), CTX)
    assert FailureReason.from_proto(result.reason) is FailureReason.ASSERTION
    assert failed(result) == expected
    if message is not None:
        assert f"{FailureReason.ASSERTION}: {result.message}" == message


@pytest.mark.integration
async def test_an_include_without_an_answer_is_a_finding_and_the_rest_is_judged(
    knot: Knot,
) -> None:
    result = await probe(check(knot.server, "unanswered.mail.test", ("s1",)), CTX)
    assert FailureReason.from_proto(result.reason) is FailureReason.ASSERTION
    found = failed(result)
    assert found.keys() == {"spf.includes", "dmarc.policy", "dkim.s1.key"}
    assert "_spf.mail.elsewhere.test" in found["spf.includes"]
    assert "REFUSED" in found["spf.includes"]
    assert found["dmarc.policy"] == "p=none < quarantine"


@pytest.mark.integration
async def test_redirect_takes_policy_and_lookups_from_target(knot: Knot) -> None:
    result = await probe(check(knot.server, "redirect.mail.test", spf_all="-all"), CTX)
    assert result.success, result.message


@pytest.fixture
def silent_udp() -> Iterator[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


async def test_unreachable_server_fails_with_the_dns_reason(silent_udp: str) -> None:
    slow = check(silent_udp, "good.mail.test").model_copy(update={"timeout": 0.3})
    result = await probe(slow, CTX)
    assert FailureReason.from_proto(result.reason) is FailureReason.DNS_TIMEOUT
    assert result.message.endswith(": no answer before the timeout"), result.message
    assert result.message.startswith("TXT ")


# --- pure rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ("v=spf2 -all", "does not start with v=spf1"),
        ("v=spf1 mx foo -all", "unknown mechanism 'foo'"),
        ("v=spf1 ip4:300.1.1.1 -all", "'ip4:300.1.1.1': not an IP network"),
        ("v=spf1 ip6:192.0.2.1 -all", "'ip6:192.0.2.1': not an IPv6 network"),
        ("v=spf1 include -all", "'include': include needs :domain"),
        ("v=spf1 -all:x", "'-all:x': all takes no argument"),
        ("v=spf1 a/99 -all", "'a/99': bad domain or prefix length"),
        ("v=spf1 redirect=a.test redirect=b.test", "redirect= appears more than once"),
        ("v=spf1 redirect= -all", "redirect= needs a domain"),
    ],
)
def test_spf_syntax_errors(record: str, error: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_spf(record)
    assert str(info.value) == error


def test_spf_parses_terms_and_ignores_unknown_modifiers() -> None:
    spf = parse_spf("v=spf1 +a mx/24 ip4:192.0.2.0/24 ~include:x.test foo=bar exp=e.test ?all")
    assert spf.all_qualifier() == "?all"
    assert spf.modifier("exp") == "e.test"
    assert [(t.qualifier, t.name, t.domain, t.network, t.v4) for t in spf.terms][:4] == [
        ("+", "a", "", "", None),
        ("+", "mx", "", "", 24),
        ("+", "ip4", "", "192.0.2.0/24", 24),
        ("~", "include", "x.test", "", None),
    ]


def _lookup(records: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def lookup(name: str, rdtype: str) -> list[str]:
        return records.get(f"{name} {rdtype}", [])

    return lookup


async def test_walk_counts_through_includes_and_redirects() -> None:
    lookup = _lookup(
        {
            "inc.test TXT": ["v=spf1 a mx ~all"],
            "inc.test A": ["192.0.2.1"],
            "inc.test MX": ["10 mx.inc.test."],
            "mx.inc.test A": ["192.0.2.2"],
            "next.test TXT": ["v=spf1 exists:%{i}.x.test include:inc.test -all"],
        }
    )
    walk = await walk_spf(
        "top.test", parse_spf("v=spf1 include:inc.test redirect=next.test"), lookup
    )
    # include(1) + a, mx (2) + redirect(1) + exists, include (2) + a, mx (2)
    assert (walk.lookups, walk.stranger, walk.findings, walk.voids) == (8, "-all", [], [])


async def test_walk_ignores_redirect_when_all_is_present() -> None:
    walk = await walk_spf("top.test", parse_spf("v=spf1 mx redirect=x.test ~all"), _lookup({}))
    assert (walk.lookups, walk.stranger, walk.voids) == (1, "~all", ["top.test MX"])


async def test_walk_reports_loops_and_missing_targets() -> None:
    lookup = _lookup({"a.test TXT": ["v=spf1 include:top.test -all"]})
    walk = await walk_spf(
        "top.test", parse_spf("v=spf1 include:a.test include:none.test -all"), lookup
    )
    assert walk.findings == [
        Finding("spf.includes", "loop: top.test -> a.test -> top.test"),
        Finding("spf.includes", "include:none.test: 0 SPF records, want 1"),
    ]


@pytest.mark.parametrize(
    ("got", "want", "ok"),
    [
        ("-all", "~all", True),
        ("~all", "~all", True),
        ("?all", "~all", False),
        ("+all", "?all", False),
    ],
)
def test_all_order(got: str, want: str, ok: bool) -> None:
    assert all_at_least(got, want) is ok


@pytest.mark.parametrize(
    ("got", "want", "ok"),
    [
        ("reject", "quarantine", True),
        ("quarantine", "quarantine", True),
        ("none", "quarantine", False),
    ],
)
def test_policy_order(got: str, want: str, ok: bool) -> None:
    assert policy_at_least(got, want) is ok


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ("p=reject; v=DMARC1", "v=DMARC1 must be the first tag"),
        ("v=DMARC1; rua=mailto:x@y.test", "no p= tag"),
        ("v=DMARC1; p=block", "p=block: use none, quarantine or reject"),
        ("v=DMARC1; p=none; p=reject", "tag p= appears twice"),
        ("v=DMARC1; p", "bad tag 'p': write name=value"),
    ],
)
def test_dmarc_errors(record: str, error: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_dmarc(record)
    assert str(info.value) == error


def test_dmarc_tags() -> None:
    dmarc = parse_dmarc("v=DMARC1; p=Quarantine; rua=mailto:d@x.test,mailto:e@y.test!10m;")
    assert dmarc == Dmarc("quarantine", None, 100, ("mailto:d@x.test", "mailto:e@y.test!10m"), ())


def test_dkim_keys() -> None:
    assert parse_dkim_key("v=DKIM1; k=rsa; p=" + rsa_spki_b64(1024)) == DkimKey("rsa", 1024)
    assert parse_dkim_key("p=" + rsa_spki_b64(512)) == DkimKey("rsa", 512)
    assert parse_dkim_key("k=ed25519; p=" + ed25519_b64()) == DkimKey("ed25519", 256)


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ("v=DKIM1; k=rsa; p=", "empty p=: the key is revoked"),
        ("v=DKIM1; k=dsa; p=AAAA", "k=dsa: use rsa or ed25519"),
        ("k=rsa; v=DKIM1; p=AAAA", "v= must be DKIM1 and the first tag"),
        ("v=DKIM1; p=!!!", "p= is not valid base64"),
        ("v=DKIM1; p=AAAA", "p= is not an RSA SubjectPublicKeyInfo"),
        ("v=DKIM1; k=ed25519; p=AAAA", "p= is not a 32-byte ed25519 key"),
        ("v=DKIM1; k=rsa", "no p= tag"),
    ],
)
def test_dkim_errors(record: str, error: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_dkim_key(record)
    assert str(info.value) == error


# --- config -----------------------------------------------------------------


def _config(body: str) -> str:
    return "checks:\n" + textwrap.indent(textwrap.dedent(body), "  ")


BAD = [
    (
        "bad-spf-all",
        "expect: {spf_all: all}",
        "field 'expect.spf_all': bad spf_all 'all': use one of -all, ~all, ?all, +all",
    ),
    (
        "bad-policy",
        "expect: {dmarc_policy: strict}",
        "field 'expect.dmarc_policy': bad dmarc_policy 'strict': use one of none, quarantine, reject",
    ),
    (
        "bad-selector",
        "dkim_selectors: [s1, 'bad selector']",
        "field 'dkim_selectors': bad DKIM selector 'bad selector': use letters, digits, -, _, .",
    ),
    (
        "bad-server",
        "server: 'localhost:53'",
        "field 'server': bad server 'localhost:53': use an IP address, e.g. 127.0.0.1:53",
    ),
    (
        "bad-bits",
        "expect: {dkim_min_bits: 0}",
        "field 'expect.dkim_min_bits': Input should be greater than or equal to 1",
    ),
]


@pytest.mark.parametrize(
    ("extra", "message"), [(e, m) for _, e, m in BAD], ids=[i for i, *_ in BAD]
)
def test_bad_config_message(extra: str, message: str) -> None:
    body = f"- name: mail\n  type: email_auth\n  domain: example.com\n  {extra}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(_config(body), "checks.yaml")
    assert info.value.problems == [f"checks.yaml:5: check 'mail': {message}"]


def test_config_as_written_with_defaults() -> None:
    config = parse_config(
        _config("""\
        - name: mail
          type: email_auth
          domain: example.com
          dkim_selectors: [s1]
          server: 127.0.0.1:5353
          expect: {spf_all: "~all", dmarc_policy: quarantine, dkim_min_bits: 1024}
        - name: mail-defaults
          type: email_auth
          domain: example.org.
        """),
        "checks.yaml",
    )
    written, defaults = config.checks
    assert [check_from_proto(check_to_proto(c)) for c in config.checks] == [written, defaults]
    assert isinstance(written, EmailAuthCheck) and isinstance(defaults, EmailAuthCheck)
    assert written.dkim_selectors == ("s1",)
    assert defaults.domain == "example.org"
    assert defaults.expect == written.expect == EmailAuthExpect()


# --- RFC rules, table-driven ---------------------------------------------------


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (
            "v=spf1 exists:%{x}.a.test -all",
            "'exists:%{x}.a.test': macro letter 'x' is not allowed here",
        ),
        (
            "v=spf1 exists:%{c}.a.test -all",
            "'exists:%{c}.a.test': macro letter 'c' is not allowed here",
        ),
        ("v=spf1 include:50%.a.test -all", "'include:50%.a.test': bad macro at '%.a.'"),
        ("v=spf1 exists:%{i.a.test -all", "'exists:%{i.a.test': bad macro at '%{i.'"),
        (
            "v=spf1 exists:%{d0}.a.test -all",
            "'exists:%{d0}.a.test': a macro's digit transformer must not be 0",
        ),
        (
            "v=spf1 include:localhost -all",
            "'include:localhost': 'localhost' is not a fully qualified domain",
        ),
        ("v=spf1 a:192.0.2.1 -all", "'a:192.0.2.1': '192.0.2.1' is not a fully qualified domain"),
        (
            "v=spf1 redirect=%{z}.a.test",
            "'redirect=%{z}.a.test': macro letter 'z' is not allowed here",
        ),
    ],
    ids=[
        "letter",
        "exp-letter",
        "lone-percent",
        "unclosed",
        "zero-digit",
        "single-label",
        "ip-as-name",
        "redirect",
    ],
)
def test_spf_macro_and_domain_errors(record: str, error: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_spf(record)
    assert str(info.value) == error


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 exists:%{i}._spf.%{d} -all",
        "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d2} -all",
        "v=spf1 include:%{d}.%%.%_.%-.a.test -all",
        "v=spf1 exists:%{I}.a.test -all",
    ],
    ids=["plain", "transformers", "escapes", "upper-case"],
)
def test_spf_valid_macros(record: str) -> None:
    parse_spf(record)


@pytest.mark.parametrize(
    ("records", "stranger", "rules"),
    [
        ({"o.test TXT": ["v=spf1 +all"]}, "+all", []),
        ({"o.test TXT": ["v=spf1 all"]}, "+all", []),
        ({"o.test TXT": ["v=spf1 ip4:192.0.2.1 -all"]}, "-all", []),
        ({"o.test TXT": ["v=spf1 ?all"]}, "-all", []),
        ({}, "-all", ["spf.includes"]),
        ({"o.test TXT": ["v=spf1 ip4:0.0.0.0/0"]}, "+all", ["spf.networks"]),
        ({"o.test TXT": ["v=spf1 ip4:10.0.0.0/8 -all"]}, "-all", ["spf.networks"]),
    ],
    ids=["plus-all", "bare-all", "closed", "neutral", "missing", "slash-0", "slash-8"],
)
async def test_include_of_an_open_record_opens_the_includer(
    records: dict[str, list[str]], stranger: str, rules: list[str]
) -> None:
    walk = await walk_spf("top.test", parse_spf("v=spf1 include:o.test -all"), _lookup(records))
    assert walk.stranger == stranger
    assert [f.rule for f in walk.findings] == rules


@pytest.mark.parametrize(
    ("record", "stranger", "networks"),
    [
        ("v=spf1 ip4:0.0.0.0/0 -all", "+all", 1),
        ("v=spf1 ip4:192.0.0.0/15 -all", "-all", 1),
        ("v=spf1 ip4:192.0.0.0/16 -all", "-all", 0),
        ("v=spf1 ip6:2001::/31 -all", "-all", 1),
        ("v=spf1 ip6:2001:db8::/32 -all", "-all", 0),
        ("v=spf1 a/8 -all", "-all", 1),
        ("v=spf1 mx//0 -all", "-all", 1),
        ("v=spf1 exists:top.test -all", "+all", 0),
        ("v=spf1 -all ip4:0.0.0.0/0", "-all", 1),
    ],
    ids=["v4-0", "v4-15", "v4-16", "v6-31", "v6-32", "a-8", "mx-v6-0", "exists-fixed", "after-all"],
)
async def test_wide_networks(record: str, stranger: str, networks: int) -> None:
    lookup = _lookup({"top.test A": ["192.0.2.1"], "top.test MX": ["10 top.test."]})
    walk = await walk_spf("top.test", parse_spf(record), lookup)
    assert walk.stranger == stranger
    assert sum(f.rule == "spf.networks" for f in walk.findings) == networks


async def test_void_lookups_are_counted_and_named() -> None:
    record = "v=spf1 a:nx1.test mx:nx2.test include:nx3.test exists:%{i}.nx4.test -all"
    walk = await walk_spf("top.test", parse_spf(record), _lookup({}))
    # exists with a macro names no fixed record, so it is not looked up
    assert walk.voids == ["nx1.test A", "nx2.test MX", "nx3.test TXT"]
    assert walk.lookups == 4


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("mailto:d@x.test", None),
        ("mailto:d@x.test!10m", None),
        ("MAILTO:d+dmarc@x.test!20", None),
        ("d@x.test", "'d@x.test' is not a URI: write mailto:reports@example.com"),
        (
            "https://x.test/r",
            "'https://x.test/r': reports are sent by mail only, use a mailto: URI",
        ),
        ("mailto:nobody", "'mailto:nobody': 'nobody' is not a mail address"),
        ("mailto:a@b", "'mailto:a@b': 'a@b' is not a mail address"),
        (
            "mailto:d@x.test!10x",
            "'mailto:d@x.test!10x' is not a URI: write mailto:reports@example.com",
        ),
    ],
    ids=["plain", "size", "upper", "no-scheme", "https", "no-at", "single-label", "bad-size"],
)
def test_dmarc_uri(uri: str, problem: str | None) -> None:
    assert uri_problem(uri) == problem


_ORG = Discovered("org.test", ("",))  # found at the organization, for a subdomain
_OWN = _ORG  # the same discovery, for the domain itself


@pytest.mark.parametrize(
    ("domain", "found", "record", "want", "findings"),
    [
        ("org.test", _OWN, "v=DMARC1; p=reject; rua=mailto:d@org.test", "reject", []),
        (
            "org.test",
            _OWN,
            "v=DMARC1; p=reject; pct=50; rua=mailto:d@org.test",
            "reject",
            [
                (
                    "dmarc.policy",
                    "p=reject with pct=50: 50% of failing mail gets quarantine, want reject for all",
                )
            ],
        ),
        ("org.test", _OWN, "v=DMARC1; p=reject; pct=50; rua=mailto:d@org.test", "quarantine", []),
        (
            "org.test",
            _OWN,
            "v=DMARC1; p=reject; sp=none; rua=mailto:d@org.test",
            "quarantine",
            [
                (
                    "dmarc.subdomain_policy",
                    "sp=none < quarantine: failing mail from subdomains of org.test is let through",
                )
            ],
        ),
        (
            "mail.org.test",
            _ORG,
            "v=DMARC1; p=reject; sp=none; rua=mailto:d@org.test",
            "quarantine",
            [("dmarc.policy", "sp=none (from _dmarc.org.test) < quarantine")],
        ),
        ("mail.org.test", _ORG, "v=DMARC1; p=reject; rua=mailto:d@org.test", "reject", []),
        (
            "org.test",
            _OWN,
            "v=DMARC1; p=quarantine; rua=d@org.test; ruf=mailto:x",
            "quarantine",
            [
                ("dmarc.rua_uri", "'d@org.test' is not a URI: write mailto:reports@example.com"),
                ("dmarc.ruf_uri", "'mailto:x': 'x' is not a mail address"),
            ],
        ),
    ],
    ids=["ok", "pct-reject", "pct-quarantine-ok", "sp-none", "inherited-sp", "inherited-p", "uris"],
)
def test_dmarc_judge(
    domain: str, found: Discovered, record: str, want: str, findings: list[tuple[str, str]]
) -> None:
    got = judge(domain, found, parse_dmarc(record), want)
    assert [(f.rule, f.message) for f in got] == findings


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("a.b.example.co.uk", "example.co.uk"),
        ("mail.test", "mail.test"),
        ("x.mail.test", "mail.test"),
        ("co.uk", "co.uk"),
    ],
)
def test_organizational_domain_from_the_shipped_list(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org


async def test_the_suffix_list_is_read_from_the_package_not_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # publicsuffixlist reads its bundled snapshot; any network use fails here.
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the suffix list must not be fetched")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    dmarc_rules._suffix_list.cache_clear()
    assert organizational_domain("www.example.com") == "example.com"
