"""The dns probe's PTR records and `dnssec_validated` option, against knotd
(signing `signed.test` itself) behind a validating unbound on loopback."""

from __future__ import annotations

import pytest

from agent.probe_kit.base import ProbeContext
from agent.probes.dns import probe
from common.config import ConfigError, parse_config
from common.config.dns import DnsCheck
from common.reasons import FailureReason
from tests.agent.dnssec import Dnssec, dnssec
from vantage.v1 import vantage_pb2 as pb

__all__ = ["dnssec"]

CTX = ProbeContext("agent-1", "eu-west")


def _check(server: str, name: str, record: str = "A", **expect: object) -> DnsCheck:
    return DnsCheck.model_validate(
        {
            "name": "d",
            "query_name": name,
            "record": record,
            "server": server,
            "timeout": 3,
            "expect": expect,
        }
    )


def _failed(result: pb.Result) -> dict[str, str]:
    return {a.name: a.message for a in result.assertions if not a.ok}


@pytest.mark.integration
async def test_validated_answer_passes(dnssec: Dnssec) -> None:
    result = await probe(_check(dnssec.resolver, "www.signed.test", dnssec_validated=True), CTX)
    assert result.success, result.message
    assert result.dns.authenticated and list(result.dns.answers) == ["192.0.2.10"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("where", "name"),
    [("resolver", "www.plain.test"), ("knot", "www.signed.test")],
    ids=["unsigned-zone", "authoritative-server"],
)
async def test_unvalidated_answer_fails(dnssec: Dnssec, where: str, name: str) -> None:
    server = getattr(dnssec, where)
    result = await probe(_check(server, name, dnssec_validated=True), CTX)
    assert FailureReason.from_proto(result.reason) is FailureReason.ASSERTION
    assert _failed(result) == {
        "dns.dnssec_validated": f"no AD bit from {server}: the answer is not DNSSEC-validated"
    }
    assert not result.dns.authenticated and result.dns.answers


@pytest.mark.integration
async def test_without_the_option_ad_is_reported_not_required(dnssec: Dnssec) -> None:
    result = await probe(_check(dnssec.resolver, "www.plain.test"), CTX)
    assert result.success and not result.dns.authenticated
    assert "dns.dnssec_validated" not in {a.name for a in result.assertions}


@pytest.mark.integration
@pytest.mark.parametrize(
    "name", ["203.0.113.10", "10.113.0.203.in-addr.arpa"], ids=["address", "reverse-name"]
)
async def test_ptr(dnssec: Dnssec, name: str) -> None:
    check = _check(dnssec.knot, name, "PTR", answers_equal=["www.probe.test"])
    assert check.qname == "10.113.0.203.in-addr.arpa"
    result = await probe(check, CTX)
    assert result.success, result.message
    assert list(result.dns.answers) == ["www.probe.test."]


@pytest.mark.integration
async def test_ptr_mismatch_shows_both_sides(dnssec: Dnssec) -> None:
    result = await probe(
        _check(dnssec.knot, "203.0.113.11", "PTR", answers_equal=["mail.probe.test"]), CTX
    )
    assert _failed(result) == {"dns.answers_equal": "got www.probe.test, want mail.probe.test"}


def test_an_address_needs_record_ptr() -> None:
    body = "checks:\n- name: d\n  type: dns\n  query_name: 192.0.2.1\n  record: A\n"
    with pytest.raises(ConfigError) as info:
        parse_config(body, "checks.yaml")
    assert info.value.problems[0].endswith(
        "check 'd': query_name 192.0.2.1 is an address: use record: PTR to look up its name"
    ), info.value.problems


def test_ipv6_reverse_name() -> None:
    check = _check("127.0.0.1:53", "2001:db8::1", "PTR")
    assert check.qname == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
