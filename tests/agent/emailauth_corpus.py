"""Real-world SPF and DMARC record shapes, served by knotd, for the
reference-agreement test (tests/agent/test_emailauth_reference.py).

SPF cases live in the zone `spf.test`, one subdomain each. DMARC cases need
an organizational domain of their own (the Public Suffix List makes
`<x>.test` one), so each DMARC case is its own zone `<case>.test`.

Each case states what a receiver should conclude for a sender named
nowhere (SPF, RFC 7208 §2.6) or which policy applies (DMARC); the test
runs our probe and the reference on it and compares both to that.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.agent.knot import LONG_SPF, txt

SPF_ZONE = "spf.test"
STRANGER = "203.0.113.99"
"""The sender the reference evaluates: listed in no corpus record."""


@dataclass(frozen=True)
class SpfCase:
    """An SPF corpus case: records under `<name>.spf.test` (`@` is the case
    domain itself) and the receiver's result for a stranger, as the RFC has
    it. Where the reference differs, `reference` is its result; `finding` is
    a rule we report that the reference has no notion of; either way `why`
    names the RFC clause."""

    name: str
    records: tuple[str, ...]
    result: str
    reference: str | None = None
    finding: str = ""
    why: str = ""


def _spf(name: str, records: tuple[str, ...], result: str, **kw: str) -> SpfCase:
    return SpfCase(name, records, result, **kw)


_OPEN = "open.spf.test"  # publishes +all
_CLOSED = "closed.spf.test"  # publishes ip4:192.0.2.1 -all
SPF_CASES = [
    _spf("basic", ('@ TXT "v=spf1 ip4:192.0.2.0/24 -all"',), "fail"),
    _spf("soft", ('@ TXT "v=spf1 mx ~all"', "@ MX 10 mx", "mx A 192.0.2.25"), "softfail"),
    _spf("no-all", ('@ TXT "v=spf1 ip4:192.0.2.1"',), "neutral"),
    _spf("question-all", ('@ TXT "v=spf1 a ?all"', "@ A 192.0.2.7"), "neutral"),
    _spf("plus-all", ('@ TXT "v=spf1 +all"',), "pass"),
    _spf("bare-all", ('@ TXT "v=spf1 ip4:192.0.2.1 all"',), "pass"),
    _spf("include-plus-all", (f'@ TXT "v=spf1 include:{_OPEN} -all"',), "pass"),
    _spf("include-bare-all", ('@ TXT "v=spf1 include:bare-all.spf.test -all"',), "pass"),
    _spf("softfail-include-open", (f'@ TXT "v=spf1 ~include:{_OPEN} -all"',), "softfail"),
    _spf("neutral-include-open", (f'@ TXT "v=spf1 ?include:{_OPEN} -all"',), "neutral"),
    _spf("include-closed", (f'@ TXT "v=spf1 include:{_CLOSED} ~all"',), "softfail"),
    _spf(
        "nested-includes",
        (
            '@ TXT "v=spf1 include:n1.nested-includes.spf.test -all"',
            'n1 TXT "v=spf1 include:n2.nested-includes.spf.test ~all"',
            f'n2 TXT "v=spf1 include:{_CLOSED} ?all"',
        ),
        "fail",
    ),
    _spf(
        "nested-open",
        (
            '@ TXT "v=spf1 include:n1.nested-open.spf.test -all"',
            f'n1 TXT "v=spf1 include:{_OPEN} ~all"',
        ),
        "pass",
    ),
    _spf("redirect", ('@ TXT "v=spf1 redirect=basic.spf.test"',), "fail"),
    _spf("redirect-open", (f'@ TXT "v=spf1 redirect={_OPEN}"',), "pass"),
    _spf("redirect-ignored", (f'@ TXT "v=spf1 redirect={_OPEN} -all"',), "fail"),
    _spf("redirect-chain", ('@ TXT "v=spf1 redirect=redirect.spf.test"',), "fail"),
    _spf("redirect-missing", ('@ TXT "v=spf1 redirect=gone.spf.test"',), "permerror"),
    _spf("include-missing", ('@ TXT "v=spf1 include:gone.spf.test -all"',), "permerror"),
    _spf(
        "include-not-spf",
        (
            '@ TXT "v=spf1 include:other.include-not-spf.spf.test -all"',
            'other TXT "google-site-verification=abc"',
        ),
        "permerror",
    ),
    _spf(
        "include-loop",
        (
            '@ TXT "v=spf1 include:b.include-loop.spf.test -all"',
            'b TXT "v=spf1 include:include-loop.spf.test -all"',
        ),
        "permerror",
    ),
    _spf(
        "lookups-10",
        ("@ TXT " + txt("v=spf1 " + " ".join(f"include:{_CLOSED}" for _ in range(10)) + " -all"),),
        "fail",
    ),
    _spf(
        "lookups-11",
        ("@ TXT " + txt("v=spf1 " + " ".join(f"include:{_CLOSED}" for _ in range(11)) + " -all"),),
        "permerror",
    ),
    _spf(
        "lookups-nested-12",
        (
            "@ TXT "
            + txt(
                "v=spf1 "
                + " ".join("include:three.lookups-nested-12.spf.test" for _ in range(3))
                + " -all"
            ),
            "three TXT "
            + txt("v=spf1 " + " ".join(f"include:{_CLOSED}" for _ in range(3)) + " -all"),
        ),
        "permerror",
    ),
    _spf("void-2", ('@ TXT "v=spf1 a:nx1.spf.test a:nx2.spf.test -all"',), "fail"),
    _spf(
        "void-3", ('@ TXT "v=spf1 a:nx1.spf.test a:nx2.spf.test a:nx3.spf.test -all"',), "permerror"
    ),
    _spf("void-mx", ('@ TXT "v=spf1 mx:nx1.spf.test mx a:nx2.spf.test -all"',), "permerror"),
    _spf(
        "void-mx-host",
        ('@ TXT "v=spf1 mx a:nx1.spf.test a:nx2.spf.test -all"', "@ MX 10 nohost"),
        "permerror",
    ),
    _spf("void-include", ('@ TXT "v=spf1 include:nx1.spf.test -all"',), "permerror"),
    _spf(
        "mx-11",
        (
            '@ TXT "v=spf1 mx -all"',
            *(f"@ MX {n} mx{n}" for n in range(11)),
            *(f"mx{n} A 192.0.2.{n + 1}" for n in range(11)),
        ),
        "permerror",
    ),
    _spf("macro-ok", ('@ TXT "v=spf1 exists:%{i}._spf.%{d} -all"',), "fail"),
    _spf(
        "macro-ok-transformers", ('@ TXT "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d2} -all"',), "fail"
    ),
    _spf("macro-bad-letter", ('@ TXT "v=spf1 exists:%{x}.spf.test -all"',), "permerror"),
    _spf("macro-bad-percent", ('@ TXT "v=spf1 include:50%.spf.test -all"',), "permerror"),
    _spf(
        "macro-unclosed",
        ('@ TXT "v=spf1 exists:%{i.spf.test -all"',),
        "permerror",
        reference="fail",
        why="RFC 7208 §7.1: a macro-expand must close with '}', and "
        "§4.6 makes a syntax error a permerror; pyspf expands the text as a literal",
    ),
    _spf("macro-exp-only-letter", ('@ TXT "v=spf1 exists:%{c}.spf.test -all"',), "permerror"),
    _spf("ip4-everything", ('@ TXT "v=spf1 ip4:0.0.0.0/0 -all"',), "pass"),
    _spf("a-slash-0", ('@ TXT "v=spf1 a/0 -all"', "@ A 192.0.2.9"), "pass"),
    _spf("exists-fixed", ('@ TXT "v=spf1 exists:always.spf.test -all"',), "pass"),
    _spf(
        "ip4-slash-8",
        ('@ TXT "v=spf1 ip4:10.0.0.0/8 -all"',),
        "fail",
        finding="spf.networks",
        why="RFC 7208 §5.6 puts no bound on a network's size; our spf.networks "
        "bound (/16 for IPv4) is a policy finding",
    ),
    _spf(
        "ip6-slash-16",
        ('@ TXT "v=spf1 ip6:2001::/16 -all"',),
        "fail",
        finding="spf.networks",
        why="RFC 7208 §5.6 puts no bound on a network's size; our spf.networks "
        "bound (/32 for IPv6) is a policy finding",
    ),
    _spf("two-records", ('@ TXT "v=spf1 mx -all"', '@ TXT "v=spf1 a -all"'), "permerror"),
    _spf("none", ('@ TXT "just text"',), "none"),
    _spf("long-split", ("@ TXT " + txt(LONG_SPF),), "fail"),
    _spf("bad-ip4", ('@ TXT "v=spf1 ip4:300.1.1.1 -all"',), "permerror"),
    _spf("unknown-mechanism", ('@ TXT "v=spf1 foo -all"',), "permerror"),
    _spf("unknown-modifier", ('@ TXT "v=spf1 ip4:192.0.2.1 foo=bar -all"',), "fail"),
    _spf("exp-modifier", ('@ TXT "v=spf1 -all exp=explain.spf.test"',), "fail"),
    _spf("single-label-include", ('@ TXT "v=spf1 include:localhost -all"',), "permerror"),
    _spf("after-all", ('@ TXT "v=spf1 -all include:gone.spf.test"',), "fail"),
    _spf("parked", ('@ TXT "v=spf1 -all"',), "fail"),
]

SPF_SHARED = [
    'open TXT "v=spf1 +all"',
    'closed TXT "v=spf1 ip4:192.0.2.1 -all"',
    "always A 127.0.0.2",
    'explain TXT "not allowed"',
]


def spf_zone() -> list[str]:
    """The records of `spf.test`: the shared targets, then each case."""
    lines = list(SPF_SHARED)
    for case in SPF_CASES:
        for record in case.records:
            owner, rest = record.split(" ", 1)
            name = case.name if owner == "@" else f"{owner}.{case.name}"
            lines.append(f"{name} {rest}")
    return lines


@dataclass(frozen=True)
class DmarcCase:
    """A DMARC corpus case: its own zone `<zone>.test`, the name checked,
    and what applies as the RFC has it: `policy` (None when no record
    applies), where it was found, and whether the record or a report URI is
    bad. Where the reference differs, `reference` holds its differing
    answers and `why` names the RFC clause."""

    zone: str
    records: tuple[str, ...]
    query: str
    policy: str | None
    location: str | None = None
    pct: int = 100
    bad_uri: bool = False
    syntax: bool = False
    reference: dict[str, object] | None = None
    why: str = ""


def _rua(zone: str) -> str:
    return f"rua=mailto:dmarc@{zone}.test"


DMARC_CASES = [
    DmarcCase("d-ok", (f'_dmarc TXT "v=DMARC1; p=reject; {_rua("d-ok")}"',), "@", "reject"),
    DmarcCase(
        "d-org",
        (f'_dmarc TXT "v=DMARC1; p=reject; sp=quarantine; {_rua("d-org")}"',),
        "mail",
        "quarantine",
        location="d-org",
    ),
    DmarcCase(
        "d-org-deep",
        (f'_dmarc TXT "v=DMARC1; p=reject; {_rua("d-org-deep")}"',),
        "a.b.c",
        "reject",
        location="d-org-deep",
    ),
    DmarcCase(
        "d-spnone",
        (f'_dmarc TXT "v=DMARC1; p=reject; sp=none; {_rua("d-spnone")}"',),
        "news",
        "none",
        location="d-spnone",
    ),
    DmarcCase(
        "d-spnone-top",
        (f'_dmarc TXT "v=DMARC1; p=reject; sp=none; {_rua("d-spnone-top")}"',),
        "@",
        "reject",
    ),
    DmarcCase(
        "d-pct50",
        (f'_dmarc TXT "v=DMARC1; p=reject; pct=50; {_rua("d-pct50")}"',),
        "@",
        "reject",
        pct=50,
    ),
    DmarcCase(
        "d-pct-sub",
        (f'_dmarc TXT "v=DMARC1; p=quarantine; pct=10; {_rua("d-pct-sub")}"',),
        "shop",
        "quarantine",
        location="d-pct-sub",
        pct=10,
    ),
    DmarcCase(
        "d-own-sub",
        (
            f'_dmarc TXT "v=DMARC1; p=reject; {_rua("d-own-sub")}"',
            f'_dmarc.lab TXT "v=DMARC1; p=none; {_rua("d-own-sub")}"',
        ),
        "lab",
        "none",
    ),
    DmarcCase("d-missing", ('@ TXT "v=spf1 -all"',), "@", None),
    DmarcCase("d-missing-sub", ('@ TXT "v=spf1 -all"',), "www", None),
    DmarcCase(
        "d-bad-rua",
        ('_dmarc TXT "v=DMARC1; p=reject; rua=dmarc@d-bad-rua.test"',),
        "@",
        "reject",
        bad_uri=True,
    ),
    DmarcCase(
        "d-bad-ruf",
        (f'_dmarc TXT "v=DMARC1; p=reject; {_rua("d-bad-ruf")}; ruf=mailto:not-an-address"',),
        "@",
        "reject",
        bad_uri=True,
    ),
    DmarcCase(
        "d-rua-https",
        ('_dmarc TXT "v=DMARC1; p=reject; rua=https://d-rua-https.test/r"',),
        "@",
        "reject",
        bad_uri=True,
    ),
    DmarcCase(
        "d-rua-two",
        ('_dmarc TXT "v=DMARC1; p=reject; rua=mailto:a@d-rua-two.test,b@d-rua-two.test"',),
        "@",
        "reject",
        bad_uri=True,
    ),
    DmarcCase(
        "d-rua-size",
        ('_dmarc TXT "v=DMARC1; p=reject; rua=mailto:a@d-rua-size.test!10m"',),
        "@",
        "reject",
    ),
    DmarcCase(
        "d-two",
        ('_dmarc TXT "v=DMARC1; p=reject"', '_dmarc TXT "v=DMARC1; p=none"'),
        "@",
        None,
        syntax=True,
    ),
    DmarcCase("d-bad-p", ('_dmarc TXT "v=DMARC1; p=block"',), "@", None, syntax=True),
    DmarcCase("d-no-p", (f'_dmarc TXT "v=DMARC1; {_rua("d-no-p")}"',), "@", None, syntax=True),
    DmarcCase(
        "d-bad-pct",
        ('_dmarc TXT "v=DMARC1; p=reject; pct=150"',),
        "@",
        None,
        syntax=True,
        reference={"policy": "reject", "syntax": False},
        why="RFC 7489 §6.3: pct is an integer from 0 to 100, so pct=150 is a bad "
        "record (§6.6.3 step 6); checkdmarc only warns and keeps p=reject",
    ),
    DmarcCase(
        "d-unknown-tag",
        (f'_dmarc TXT "v=DMARC1; p=reject; {_rua("d-unknown-tag")}; foo=bar"',),
        "@",
        "reject",
        reference={"policy": None, "syntax": True},
        why="RFC 7489 §6.3: unknown tags MUST be ignored; checkdmarc rejects the record",
    ),
    DmarcCase(
        "d-long",
        (
            "_dmarc TXT "
            + txt(
                f"v=DMARC1; p=quarantine; {_rua('d-long')}; "
                + "ruf="
                + ",".join(f"mailto:f{n}@d-long.test" for n in range(14))
            ),
        ),
        "@",
        "quarantine",
    ),
]


def dmarc_zones() -> dict[str, list[str]]:
    """One zone per DMARC case, each with an MX so report addresses are real."""
    zones = {}
    for case in DMARC_CASES:
        # The name checked exists, as a real sender's domain does.
        named = [] if case.query in ("@", "mail") else [f"{case.query} A 192.0.2.80"]
        zones[f"{case.zone}.test"] = ["@ MX 10 mail", "mail A 192.0.2.25", *named, *case.records]
    return zones


def corpus_zones() -> dict[str, list[str]]:
    """Every zone of the corpus, for the knot fixture."""
    return {SPF_ZONE: spf_zone(), **dmarc_zones()}
