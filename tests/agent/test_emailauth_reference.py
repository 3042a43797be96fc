"""The email_auth probe against reference implementations, on a corpus of
real-world record shapes served by knotd on loopback.

SPF: pyspf evaluates each case for a stranger (a sender listed nowhere)
through dnspython, whose default resolver is pointed at knot. DMARC:
checkdmarc discovers and parses each case's policy with a resolver pointed
at knot. Both cases' expectations are written in the corpus; our probe and
the reference must each agree with it, except where a case names the RFC
clause on which we differ from the reference on purpose.
"""

from __future__ import annotations

import dns.resolver
import pytest

from agent.probe_kit.base import ProbeContext
from agent.probes.email_auth import probe
from common.config.email_auth import EmailAuthCheck, EmailAuthExpect
from tests.agent.emailauth_corpus import (
    DMARC_CASES,
    SPF_CASES,
    SPF_ZONE,
    STRANGER,
    DmarcCase,
    SpfCase,
)
from tests.agent.knot import Knot
from vantage.v1 import vantage_pb2 as pb

spf_ref = pytest.importorskip("spf")
checkdmarc_dmarc = pytest.importorskip("checkdmarc.dmarc")

CTX = ProbeContext("agent-1", "eu-west")
_PERMERROR_RULES = frozenset(
    {"spf.single_record", "spf.syntax", "spf.includes", "spf.lookup_limit", "spf.void_lookup_limit"}
)
_STRANGER_RESULT = {"-all": "fail", "~all": "softfail", "?all": "neutral", "+all": "pass"}


def _resolver(knot: Knot) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = knot.port
    resolver.lifetime = resolver.timeout = 2.0
    return resolver


async def _ours(knot: Knot, domain: str, **expect: object) -> pb.Result:
    check = EmailAuthCheck(
        name="mail",
        domain=domain,
        server=knot.server,
        timeout=5,
        expect=EmailAuthExpect.model_validate(expect),
    )
    return await probe(check, CTX)


def _failed(result: pb.Result, prefix: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for a in result.assertions:
        if not a.ok and a.name.startswith(prefix):
            found.setdefault(a.name, []).append(a.message)
    return found


def _our_spf_result(result: pb.Result) -> str:
    """What our findings say a receiver concludes for a stranger."""
    failed = _failed(result, "spf.")
    if failed.get("spf.single_record") == ["0 v=spf1 records, want 1"]:
        return "none"
    if _PERMERROR_RULES & failed.keys():
        return "permerror"
    # expect spf_all=-all, so the all_policy message names what we found
    laxer = failed.get("spf.all_policy", ["-all is laxer"])[0].split()[0]
    return _STRANGER_RESULT[laxer]


# --- SPF ----------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve:DeprecationWarning")
@pytest.mark.parametrize("case", SPF_CASES, ids=[c.name for c in SPF_CASES])
async def test_spf_agrees_with_pyspf(
    knot: Knot, case: SpfCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = f"{case.name}.{SPF_ZONE}"
    # pyspf asks dnspython's default resolver: point it at knot.
    monkeypatch.setattr(dns.resolver, "default_resolver", _resolver(knot))
    reference, _, why = spf_ref.query(STRANGER, f"postmaster@{domain}", domain, timeout=5).check()
    if case.reference or case.finding:
        assert case.why, "a case where we differ names the RFC clause"
    assert reference == (case.reference or case.result), f"pyspf: {why}"
    result = await _ours(knot, domain, spf_all="-all")
    if case.finding:
        assert case.finding in _failed(result, "spf."), result.assertions
    assert _our_spf_result(result) == case.result, _failed(result, "spf.")


@pytest.mark.integration
async def test_open_spf_is_a_finding_however_it_is_reached(knot: Knot) -> None:
    # Every case a stranger passes must fail the default check (~all):
    # +all written, reached through include or redirect, or a /0 network.
    opened = [c for c in SPF_CASES if c.result == "pass"]
    assert len(opened) >= 7
    for case in opened:
        result = await _ours(knot, f"{case.name}.{SPF_ZONE}")
        assert not result.success, case.name
        assert "spf.all_policy" in _failed(result, "spf."), case.name


# --- DMARC --------------------------------------------------------------------


def _reference_dmarc(knot: Knot, domain: str) -> dict[str, object]:
    """checkdmarc's view, in the corpus's terms."""
    resolver = _resolver(knot)
    try:
        found = checkdmarc_dmarc.query_dmarc_record(domain, resolver=resolver)
    except checkdmarc_dmarc.DMARCRecordNotFound:
        return {"policy": None, "syntax": False}
    except checkdmarc_dmarc.DMARCError:
        return {"policy": None, "syntax": True}
    location = found["location"]
    try:
        parsed = checkdmarc_dmarc.parse_dmarc_record(found["record"], location, resolver=resolver)
    except checkdmarc_dmarc.InvalidDMARCReportURI:
        # It rejects the whole record over one bad URI, so it names no policy.
        return {"bad_uri": True, "syntax": False}
    except checkdmarc_dmarc.DMARCError:
        return {"policy": None, "syntax": True}
    tags = parsed["tags"]
    inherited = location != domain
    policy = tags["sp" if inherited else "p"]["value"]
    bad_uri = any("not a valid DMARC report URI" in w for w in parsed["warnings"])
    return {
        "policy": policy,
        "location": location if inherited else None,
        "pct": tags["pct"]["value"],
        "bad_uri": bad_uri,
        "syntax": False,
    }


def _ours_dmarc(result: pb.Result, domain: str) -> dict[str, object]:
    failed = _failed(result, "dmarc.")
    if "dmarc.present" in failed:
        return {"policy": None, "syntax": False}
    if "dmarc.syntax" in failed:
        return {"policy": None, "syntax": True}
    # want none, so dmarc.policy never fails; the applied policy and pct
    # come from a second run that wants reject (below).
    return {"bad_uri": bool({"dmarc.rua_uri", "dmarc.ruf_uri"} & failed.keys()), "syntax": False}


def _expected(case: DmarcCase, domain: str) -> dict[str, object]:
    if case.policy is None:
        return {"policy": None, "syntax": case.syntax}
    location = f"{case.location}.test" if case.location else None
    return {
        "policy": case.policy,
        "location": location,
        "pct": case.pct,
        "bad_uri": case.bad_uri,
        "syntax": False,
    }


async def _our_policy(knot: Knot, domain: str) -> tuple[str, int, str | None]:
    """The policy we apply, read from what our dmarc.policy rule says at
    each requirement: the strictest requirement met is the policy."""
    met = "none"
    for want in ("quarantine", "reject"):
        result = await _ours(knot, domain, dmarc_policy=want)
        if "dmarc.policy" in _failed(result, "dmarc."):
            message = _failed(result, "dmarc.")["dmarc.policy"][0]
            break
        met = want
    else:
        message = ""
    return met, _pct(message), _location(message)


def _pct(message: str) -> int:
    return (
        int(message.split("pct=")[1].split(" ", maxsplit=1)[0].rstrip(":"))
        if "pct=" in message
        else 100
    )


def _location(message: str) -> str | None:
    return (
        message.split("(from _dmarc.")[1].split(")", maxsplit=1)[0]
        if "(from _dmarc." in message
        else None
    )


@pytest.mark.integration
@pytest.mark.parametrize("case", DMARC_CASES, ids=[c.zone for c in DMARC_CASES])
async def test_dmarc_agrees_with_checkdmarc(knot: Knot, case: DmarcCase) -> None:
    domain = case.zone + ".test" if case.query == "@" else f"{case.query}.{case.zone}.test"
    expected = _expected(case, domain)
    reference = _reference_dmarc(knot, domain)
    ours = _ours_dmarc(await _ours(knot, domain, dmarc_policy="none"), domain)
    if case.reference is not None:
        assert case.why, "a case where we differ names the RFC clause"
        assert {k: reference.get(k) for k in case.reference} == case.reference, "checkdmarc"
    else:
        # checkdmarc names no policy for a record with a bad URI: compare
        # what it does say.
        assert reference == {k: expected.get(k) for k in reference}, "checkdmarc"
    assert ours == {k: expected.get(k) for k in ours}, "ours"
    if expected["policy"] is not None:
        policy, pct, location = await _our_policy(knot, domain)
        assert policy == _applied(expected), "ours: policy applied"
        assert (pct, location) == (expected["pct"], expected["location"]) or policy == "reject"


def _applied(expected: dict[str, object]) -> str:
    """The policy every failing message is guaranteed (RFC 7489 §6.6.4:
    mail left out of a pct sample gets the next policy down)."""
    policy = str(expected["policy"])
    if int(str(expected["pct"])) < 100 and policy != "none":
        return {"reject": "quarantine", "quarantine": "none"}[policy]
    return policy
