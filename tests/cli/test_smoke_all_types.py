"""`vantage smoke` on a file with every probe type against loopback test
servers (the portal, the faulty servers of the contract test) prints every
finding: each failed assertion or failure under its check, in the table and
in JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent.probes import PROBES
from tests.agent.faulty import DNS_ZONE, Faulty, faulty_servers_in_thread
from tests.cli.test_smoke import portal, smoke
from tests.support.procs import Procs

pytestmark = pytest.mark.integration

__all__ = ["Procs", "portal"]  # the fixture


def config(path: Path, base: str, s: Faulty) -> Path:
    lo = "127.0.0.1"
    path.write_text(f"""\
defaults: {{interval: 60s, timeout: 2s}}
checks:
  - {{name: http-findings, type: http, url: "{base}/www/",
     expect: {{status: [200], body_contains: [Goodbye], headers: {{x-release: v9, x-frame-options: DENY}}}}}}
  - {{name: http-wrong-name, type: http, url: "https://{lo}:{s.wrong_hostname}/", ca_file: {s.ca_file}}}
  - name: flow-login
    type: http_flow
    steps:
      - {{name: login, method: POST, url: "{base}/api/login", json: {{user: ops, password: nope}}}}
  - {{name: tls-expired, type: tls, target: "{lo}:{s.expired}", ca_file: {s.ca_file}}}
  - {{name: dns-aaaa, type: dns, query_name: ok.{DNS_ZONE}, record: AAAA, server: "{lo}:{s.dns[1]}",
     expect: {{answers_equal: ["2001:db8::2"], min_answers: 2}}}}
  - {{name: dns-refused, type: dns, query_name: refused.{DNS_ZONE}, server: "{lo}:{s.dns[1]}"}}
  - {{name: mail-auth, type: email_auth, domain: ok.{DNS_ZONE}, server: "{lo}:{s.dns[1]}"}}
  - {{name: tcp-banner, type: tcp, target: "{lo}:{s.garbage}", query_response: [{{expect: "^220 "}}]}}
  - {{name: grpc-refused, type: grpc, target: "{lo}:{s.refused}"}}
  - {{name: icmp-nxdomain, type: icmp, target: nxdomain.{DNS_ZONE}}}
""")
    return path


def test_every_type_every_finding(portal: str, tmp_path: Path) -> None:
    junit = tmp_path / "smoke.xml"
    with faulty_servers_in_thread(tmp_path) as servers:
        path = config(tmp_path / "all.yaml", portal, servers)
        dns = f"--dns-server=127.0.0.1:{servers.dns[1]}"
        done = smoke(str(path), "--junit", str(junit), dns)
    assert done.returncode == 1
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line[:1].isalpha()}
    types = {"http", "http_flow", "tls", "dns", "email_auth", "tcp", "grpc", "icmp"}
    assert types == set(PROBES)  # a new type belongs in this file too
    findings = [line.strip() for line in done.stdout.splitlines() if line.startswith("    - ")]
    expected = [
        "- header.x-release: 'v1.4.2', want 'v9'",
        "- header.x-frame-options: missing",
        "- body.contains: missing 'Goodbye'",
        "- tls_hostname: certificate verify failed: IP address mismatch",
        "- login.http.status: status 401, want 2xx",
        "- tls_expired: certificate verify failed: certificate has expired",
        "- dns.answers_equal: got 2001:db8::1, want 2001:db8::2",
        "- dns.min_answers: 1 < 2",
        "- dns_refused: refused.fault.test: the server answered REFUSED, want NOERROR",
        "- spf.single_record",
        "- dmarc.present",
        "- tcp.expect",
        "- connect_refused",
        "- dns_nxdomain",
    ]
    for want in expected:
        assert any(f.startswith(want) for f in findings), (want, done.stdout)
    assert "- http.status" not in done.stdout  # a passed assertion is not a finding
    assert {name: row.split()[1] for name, row in rows.items() if name != "check"} == dict.fromkeys(
        (
            "http-findings",
            "http-wrong-name",
            "flow-login",
            "tls-expired",
            "dns-aaaa",
            "dns-refused",
            "mail-auth",
            "tcp-banner",
            "grpc-refused",
            "icmp-nxdomain",
        ),
        "FAIL",
    )
    failures = [f.text or "" for f in ET.parse(junit).getroot().iter("failure")]
    assert sum(len(text.splitlines()) for text in failures) >= len(findings)
