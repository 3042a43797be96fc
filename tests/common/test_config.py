"""The config validation table: each bad file maps to its exact message."""

from __future__ import annotations

import textwrap

import pytest

from common.config import CHECK_TYPES, ConfigError, parse_config
from common.config.http import HttpCheck
from common.durations import format_duration, parse_duration

GOOD = """\
defaults: {interval: 60s, timeout: 10s, regions: [eu-west, us-east, ap-south]}
checks:
  - name: home
    type: http
    url: http://127.0.0.1:8080/
    expect: {status: [200]}
    labels: {service: portal, severity: critical}
  - name: api-health
    type: http
    url: http://127.0.0.1:8080/healthz
    interval: 30s
"""


def test_issue_example_parses_with_defaults_applied() -> None:
    config = parse_config(GOOD, "checks.yaml")
    home, api = config.checks
    assert isinstance(home, HttpCheck)
    assert (home.interval, home.timeout, home.regions) == (
        60.0,
        10.0,
        ("eu-west", "us-east", "ap-south"),
    )
    assert home.expect.status_ok(200) and not home.expect.status_ok(201)
    assert home.labels == {"service": "portal", "severity": "critical"}
    assert api.interval == 30.0
    assert config.for_region("eu-west") == config.checks


def test_version_changes_with_content_only() -> None:
    a = parse_config(GOOD, "a.yaml")
    b = parse_config(GOOD + "\n# a comment\n", "b.yaml")
    c = parse_config(GOOD.replace("30s", "20s"), "a.yaml")
    assert a.version == b.version != c.version


def _one(body: str) -> str:
    return "checks:\n" + textwrap.indent(textwrap.dedent(body), "  ")


BAD = [
    (
        "unknown-key",
        _one("""\
        - name: home
          type: http
          url: http://x/
          expct: {status: [200]}
        """),
        ["checks.yaml:5: check 'home': unknown key 'expct' (did you mean 'expect'?)"],
    ),
    (
        "unknown-nested-key",
        _one("""\
        - name: home
          type: http
          url: http://x/
          expect: {statu: [200]}
        """),
        ["checks.yaml:5: check 'home': unknown key 'statu' (did you mean 'status'?)"],
    ),
    (
        "bad-duration",
        _one("""\
        - name: home
          type: http
          url: http://x/
          interval: 5x
        """),
        [
            "checks.yaml:5: check 'home': field 'interval': bad duration '5x': "
            "write a number with ms, s, m, h or d, e.g. 30s, 7d or 1h30m"
        ],
    ),
    (
        "duration-without-unit",
        _one("""\
        - name: home
          type: http
          url: http://x/
          timeout: 5
        """),
        ["checks.yaml:5: check 'home': field 'timeout': bad duration 5: add a unit, e.g. 5s"],
    ),
    (
        "timeout-not-below-interval",
        _one("""\
        - name: portal-login
          type: http
          url: http://x/
          interval: 60s
          timeout: 90s
        """),
        [
            "checks.yaml:6: check 'portal-login': field 'timeout': "
            "timeout 90s must be shorter than interval 60s"
        ],
    ),
    (
        "duplicate-name",
        _one("""\
        - name: home
          type: http
          url: http://x/
        - name: home
          type: http
          url: http://y/
        """),
        ["checks.yaml:5: check 'home': duplicate name, first defined on line 2"],
    ),
    (
        "bad-url-scheme",
        _one("""\
        - name: home
          type: http
          url: ftp://x/
        """),
        [
            "checks.yaml:4: check 'home': field 'url': bad URL 'ftp://x/': "
            "the scheme must be http or https"
        ],
    ),
    (
        "bad-url-port",
        _one("""\
        - name: home
          type: http
          url: http://x:99999/
        """),
        ["checks.yaml:4: check 'home': field 'url': bad URL 'http://x:99999/': bad port"],
    ),
    (
        "space-in-host",
        _one("""\
        - name: home
          type: http
          url: http://exa mple.com/
        """),
        [
            "checks.yaml:4: check 'home': field 'url': bad URL 'http://exa mple.com/':"
            " bad host 'exa mple.com': use a DNS name like www.example.com"
        ],
    ),
    (
        "empty-body-needle",  # held-out: found in every body, so a no-op or a sure failure
        _one("""\
        - name: home
          type: http
          url: http://x/
          expect: {body_not_contains: ""}
        """),
        [
            "checks.yaml:5: check 'home': field 'expect.body_not_contains': an empty string"
            " is in every body: give the text to look for"
        ],
    ),
    (
        "unbracketed-ipv6-target",  # held-out: read as an address and port 0
        _one("""\
        - name: smtp
          type: tcp
          target: "2001:db8::1:25"
        """),
        [
            "checks.yaml:4: check 'smtp': field 'target': bad target '2001:db8::1:25': an IPv6"
            " address goes in brackets, e.g. [2001:db8::1]:25"
        ],
    ),
    (
        "mistyped-address",  # held-out: 192.0.2.300 passed as a DNS name
        _one("""\
        - name: rev
          type: dns
          query_name: 192.0.2.300
          record: PTR
        """),
        [
            "checks.yaml:4: check 'rev': field 'query_name': bad query_name '192.0.2.300':"
            " not an IP address, and no DNS name ends in digits"
        ],
    ),
    (
        "head-with-body-assertions",
        _one("""\
        - name: home
          type: http
          url: http://x/
          method: HEAD
          expect: {body_contains: Welcome}
        """),
        [
            "checks.yaml:2: check 'home': method HEAD gets no body, so expect.body_contains"
            " can never pass: use GET, or drop the body assertions"
        ],
    ),
    (
        "redirect-status-while-following",
        _one("""\
        - name: home
          type: http
          url: http://x/
          expect: {status: 301}
        """),
        [
            "checks.yaml:2: check 'home': expect.status 301 can never be seen: redirects are"
            " followed; set redirects.follow: false to judge the redirect itself"
        ],
    ),
    (
        "chain-without-following",
        _one("""\
        - name: home
          type: http
          url: http://x/
          redirects: {follow: false, expect_chain: [{status: 301}, {status: 302}]}
        """),
        [
            "checks.yaml:2: check 'home': redirects.expect_chain lists 2 hops but"
            " redirects.follow is false, so at most 1 is seen"
        ],
    ),
    (
        "missing-url",
        _one("""\
        - name: home
          type: http
        """),
        ["checks.yaml:2: check 'home': field 'url': Field required"],
    ),
    (
        "unknown-type",
        _one("""\
        - name: home
          type: gopher
        """),
        [
            "checks.yaml:3: check 'home': field 'type': 'gopher' is not one of "
            + ", ".join(sorted(CHECK_TYPES))
        ],
    ),
    (
        "bad-status",
        _one("""\
        - name: home
          type: http
          url: http://x/
          expect: {status: [200, 7xx]}
        """),
        [
            "checks.yaml:5: check 'home': field 'expect.status': bad status '7xx': "
            "use a code from 100 to 599 or a range like 2xx"
        ],
    ),
    (
        "cert-expiry-critical-not-below-warning",
        _one("""\
        - name: home
          type: tls
          target: 127.0.0.1:443
          cert_expiry: {warning_days: 7, critical_days: 10}
        """),
        [
            "checks.yaml:5: check 'home': field 'cert_expiry': "
            "critical_days 10 must be below warning_days 7"
        ],
    ),
    (
        "cert-expiry-not-positive",
        _one("""\
        - name: home
          type: tls
          target: 127.0.0.1:443
          cert_expiry: {critical_days: 0}
        """),
        [
            "checks.yaml:5: check 'home': field 'cert_expiry.critical_days': "
            "Input should be greater than 0"
        ],
    ),
    (
        "unknown-root-key",
        "chekcs: []\n",
        ["checks.yaml:1: unknown key 'chekcs' (did you mean 'checks'?)"],
    ),
    (
        "bad-default",
        "defaults: {interval: soon}\n",
        [
            "checks.yaml:1: field 'interval': bad duration 'soon': write a number with ms, s, m, h or d, e.g. 30s, 7d or 1h30m"
        ],
    ),
    (
        "not-yaml",
        "checks: [\n",
        ["checks.yaml:2: not valid YAML: did not find expected node content"],
    ),
    (
        "two-mistakes-both-reported",
        _one("""\
        - name: a
          type: http
          url: nope
        - name: b
          type: http
          url: http://x/
          interval: 1x
        """),
        [
            "checks.yaml:4: check 'a': field 'url': bad URL 'nope': the scheme must be http or https",
            "checks.yaml:8: check 'b': field 'interval': bad duration '1x': "
            "write a number with ms, s, m, h or d, e.g. 30s, 7d or 1h30m",
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in BAD], ids=[i for i, _, _ in BAD]
)
def test_bad_config_message(text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "checks.yaml")
    problems = info.value.problems
    assert len(problems) == len(expected), problems
    for got, want in zip(problems, expected, strict=True):
        assert got == want


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("7d", 604800.0),
        ("1h30m", 5400.0),
        ("1d12h", 129600.0),
        ("2m30s500ms", 150.5),
        (" 30s ", 30.0),
    ],
    ids=["ms", "s", "m", "h", "fraction", "days", "h+m", "d+h", "m+s+ms", "padded"],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "5", "5x", "-1s", "1 d", "s", "30m1h", "1h1h", "1h 30m", "h30m", "1h30"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "500ms"),
        (60, "60s"),
        (90, "90s"),
        (600, "10m"),
        (3600, "1h"),
        (1.5, "1.5s"),
        (604800, "7d"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_dns_example_with_two_name_keys_works_as_written() -> None:
    config = parse_config(
        _one("""\
        - name: staging-gone
          type: dns
          name: staging.example.com
          record: A
          server: 1.1.1.1:53
          expect: {rcode: NXDOMAIN}
        """),
        "checks.yaml",
    )
    check = config.checks[0]
    assert (check.name, getattr(check, "query_name", None)) == (
        "staging-gone",
        "staging.example.com",
    )


def test_insecure_skip_verify_is_a_warning_naming_the_line() -> None:
    config = parse_config(
        _one("""\
        - name: ok
          type: http
          url: https://x/
        - name: lax
          type: http
          url: https://x/
          insecure_skip_verify: true
        """),
        "checks.yaml",
    )
    assert config.warnings == (
        "checks.yaml:5: check 'lax': insecure_skip_verify is on: TLS certificates are not verified",
    )


@pytest.mark.parametrize("status", ["2XX", "2xx", " 4Xx"])
def test_status_classes_in_any_case(status: str) -> None:
    config = parse_config(
        _one(f"""\
        - name: home
          type: http
          url: http://x/
          expect: {{status: ["{status}"]}}
        """),
        "checks.yaml",
    )
    check = config.checks[0]
    assert isinstance(check, HttpCheck)
    assert check.expect.status == (status.strip().lower(),)
