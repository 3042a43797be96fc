"""The DNS probe against a real knotd on loopback, and the dns config model."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator

import pytest

from agent.probe_kit.base import ProbeContext
from agent.probes.dns import probe
from common.config import ConfigError, parse_config
from common.config.dns import DnsCheck, DnsExpect
from common.reasons import FailureReason
from common.wire import check_from_proto, check_to_proto
from tests.agent.knot import BIG_TXT_COUNT, Knot
from vantage.v1 import vantage_pb2 as pb

CTX = ProbeContext("agent-1", "eu-west")


def check(server: str, name: str, record: str = "A", /, **expect: object) -> DnsCheck:
    return DnsCheck(
        name="dns-check",
        query_name=name,
        record=record,
        server=server,
        timeout=2,
        expect=DnsExpect.model_validate(expect),
    )


def reason(result: pb.Result) -> FailureReason:
    return FailureReason.from_proto(result.reason)


@pytest.fixture
def silent_udp() -> Iterator[str]:
    """A UDP port that takes queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.integration
async def test_answers_equal_passes_and_records_details(knot: Knot) -> None:
    result = await probe(
        check(knot.server, "www.probe.test", answers_equal=["203.0.113.11", "203.0.113.10"]), CTX
    )
    assert result.success, result.message
    assert list(result.dns.answers) == ["203.0.113.10", "203.0.113.11"]
    assert (result.dns.rcode, result.dns.server, result.dns.tcp) == ("NOERROR", knot.server, False)
    assert 0 < result.phases.resolve < 2
    assert [(a.name, a.ok) for a in result.assertions] == [
        ("dns.rcode", True),
        ("dns.answers_equal", True),
    ]


@pytest.mark.integration
async def test_answers_equal_mismatch_is_an_assertion(knot: Knot) -> None:
    result = await probe(
        check(knot.server, "www.probe.test", answers_equal=["203.0.113.10", "203.0.113.99"]), CTX
    )
    assert reason(result) is FailureReason.ASSERTION
    assert result.message == (
        "dns.answers_equal: got 203.0.113.10, 203.0.113.11, want 203.0.113.10, 203.0.113.99"
    )


@pytest.mark.integration
async def test_expected_nxdomain_is_success(knot: Knot) -> None:
    result = await probe(check(knot.server, "staging.probe.test", rcode="NXDOMAIN"), CTX)
    assert result.success, result.message
    assert (result.dns.rcode, list(result.dns.answers)) == ("NXDOMAIN", [])


@pytest.mark.integration
async def test_unexpected_nxdomain_is_dns_nxdomain(knot: Knot) -> None:
    result = await probe(check(knot.server, "staging.probe.test"), CTX)
    assert reason(result) is FailureReason.DNS_NXDOMAIN
    assert result.message == "staging.probe.test: the server answered NXDOMAIN, want NOERROR"


@pytest.mark.integration
async def test_name_that_should_be_gone_is_an_assertion(knot: Knot) -> None:
    result = await probe(check(knot.server, "www.probe.test", rcode="NXDOMAIN"), CTX)
    assert reason(result) is FailureReason.ASSERTION
    assert result.message == "dns.rcode: NOERROR, want NXDOMAIN"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "record", "expect", "answers"),
    [
        (
            "probe.test",
            "MX",
            {"answers_contain": ["10 MX1.probe.test"], "min_answers": 2},
            ["10 mx1.probe.test.", "20 mx2.probe.test."],
        ),
        ("hello.probe.test", "TXT", {"answers_equal": ["hello world"]}, ["hello world"]),
        ("alias.probe.test", "CNAME", {"answers_equal": ["www.probe.test"]}, ["www.probe.test."]),
        (
            "www.probe.test",
            "A",
            {"answers_match": r"^203\.0\.113\.1\d$"},
            ["203.0.113.10", "203.0.113.11"],
        ),
    ],
    ids=["mx-contain", "txt-equal", "cname-equal", "a-match"],
)
async def test_record_types(
    knot: Knot, name: str, record: str, expect: dict[str, object], answers: list[str]
) -> None:
    result = await probe(check(knot.server, name, record, **expect), CTX)
    assert result.success, result.message
    assert list(result.dns.answers) == answers


@pytest.mark.integration
@pytest.mark.parametrize(
    ("expect", "message"),
    [
        (
            {"answers_match": r"^10\."},
            "dns.answers_match: 203.0.113.10, 203.0.113.11 do not match '^10\\\\.'",
        ),
        ({"min_answers": 3}, "dns.min_answers: 2 < 3"),
        (
            {"answers_contain": ["203.0.113.12"]},
            "dns.answers_contain: 203.0.113.12 not in 203.0.113.10, 203.0.113.11",
        ),
    ],
    ids=["match", "min-answers", "contain"],
)
async def test_failed_answer_expectations(
    knot: Knot, expect: dict[str, object], message: str
) -> None:
    result = await probe(check(knot.server, "www.probe.test", **expect), CTX)
    assert reason(result) is FailureReason.ASSERTION
    assert result.message == message


@pytest.mark.integration
async def test_truncated_udp_answer_falls_back_to_tcp(knot: Knot) -> None:
    result = await probe(check(knot.server, "big.probe.test", "TXT"), CTX)
    assert result.success, result.message
    assert result.dns.tcp
    assert len(result.dns.answers) == BIG_TXT_COUNT


async def test_silent_server_is_dns_timeout(silent_udp: str) -> None:
    slow = check(silent_udp, "www.probe.test").model_copy(update={"timeout": 0.3})
    result = await probe(slow, CTX)
    assert reason(result) is FailureReason.DNS_TIMEOUT
    assert result.message == "no answer before the timeout"
    assert result.dns.server == silent_udp


def _config(body: str) -> str:
    return "checks:\n" + textwrap.indent(textwrap.dedent(body), "  ")


BAD = [
    (
        "bad-record",
        """\
        - name: d
          type: dns
          query_name: www.example.com
          record: AXFR
        """,
        "checks.yaml:5: check 'd': field 'record': "
        "bad record 'AXFR': use one of A, AAAA, CNAME, MX, TXT, NS, CAA, SOA, SRV, PTR",
    ),
    (
        "bad-server",
        """\
        - name: d
          type: dns
          query_name: www.example.com
          server: "127.0.0.1:99999"
        """,
        "checks.yaml:5: check 'd': field 'server': "
        "bad address '127.0.0.1:99999': write host:port, e.g. 127.0.0.1:53",
    ),
    (
        "server-by-name",
        """\
        - name: d
          type: dns
          query_name: www.example.com
          server: ns1.example.com:53
        """,
        "checks.yaml:5: check 'd': field 'server': "
        "bad server 'ns1.example.com:53': use an IP address, e.g. 127.0.0.1:53",
    ),
    (
        "no-name-to-look-up",
        """\
        - name: staging-gone
          type: dns
          record: A
        """,
        "checks.yaml:2: check 'staging-gone': query_name: set the name to look up, "
        "e.g. query_name: www.example.com (name: is the check's own name)",
    ),
    (
        "bad-query-name",
        """\
        - name: d
          type: dns
          query_name: "bad name.example.com"
        """,
        "checks.yaml:4: check 'd': field 'query_name': "
        "bad query_name 'bad name.example.com': use a DNS name like www.example.com",
    ),
    (
        "bad-rcode",
        """\
        - name: d
          type: dns
          query_name: www.example.com
          expect: {rcode: GONE}
        """,
        "checks.yaml:5: check 'd': field 'expect.rcode': bad rcode 'GONE': use one of "
        "FORMERR, NOERROR, NOTAUTH, NOTIMP, NXDOMAIN, REFUSED, SERVFAIL, YXDOMAIN",
    ),
    (
        "answers-with-nxdomain",
        """\
        - name: d
          type: dns
          query_name: www.example.com
          expect: {rcode: NXDOMAIN, answers_equal: [192.0.2.1]}
        """,
        "checks.yaml:5: check 'd': field 'expect': "
        "answers_equal needs rcode NOERROR: a NXDOMAIN has no answers",
    ),
    (
        "bad-regex",
        """\
        - name: d
          type: dns
          query_name: www.example.com
          expect: {answers_match: "(unclosed"}
        """,
        "checks.yaml:5: check 'd': field 'expect.answers_match': "
        "bad regex '(unclosed': missing ), unterminated subpattern at position 0",
    ),
    (
        "unknown-expect-key",
        """\
        - name: d
          type: dns
          query_name: www.example.com
          expect: {answer_equal: [192.0.2.1]}
        """,
        "checks.yaml:5: check 'd': unknown key 'answer_equal' (did you mean 'answers_equal'?)",
    ),
]


@pytest.mark.parametrize(("body", "message"), [(b, m) for _, b, m in BAD], ids=[i for i, *_ in BAD])
def test_bad_config_message(body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_config(body), "checks.yaml")
    assert info.value.problems == [message]


def test_config_defaults_and_optional_port() -> None:
    config = parse_config(
        _config("""\
        - name: staging-gone
          type: dns
          query_name: staging.example.com
          server: 127.0.0.1
        """),
        "checks.yaml",
    )
    (dns_check,) = config.checks
    assert check_from_proto(check_to_proto(dns_check)) == dns_check
    assert isinstance(dns_check, DnsCheck)
    assert (dns_check.record, dns_check.expect.rcode, dns_check.server) == (
        "A",
        "NOERROR",
        "127.0.0.1",
    )
