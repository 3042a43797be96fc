"""Launch checks through the real fleet: a login flow whose password lives only
in the agent's environment, and a TLS check, with their metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from tests.agent.portal import PASSWORD
from tests.support.net import free_port, get_json, http_get, wait_for
from tests.support.procs import Procs

pytestmark = pytest.mark.integration


def test_secret_never_leaves_the_agent_and_tls_metrics_are_exported(
    procs: Procs, tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = free_port()
    procs.start(
        "portal",
        [
            sys.executable,
            "-m",
            "tests.agent.portal",
            f"127.0.0.1:{port}",
            str(tmp_path / "server.pem"),
            str(tmp_path / "server.pem"),
        ],
    )
    base = f"https://localhost:{port}"
    config = tmp_path / "checks.yaml"
    config.write_text(f"""\
defaults: {{interval: 1s, timeout: 900ms, regions: [eu-west]}}
checks:
  - name: login
    type: http_flow
    ca_file: {tmp_path / "ca.pem"}
    steps:
      - name: login
        method: POST
        url: {base}/api/login
        json: {{user: ops@example.com, password: "${{env:PORTAL_PASSWORD}}"}}
        extract: {{token: {{json: token}}}}
      - name: dashboard
        url: {base}/api/dashboard
        bearer_token: "${{token}}"
        expect: {{json: [{{path: status, equals: ok}}]}}
  - name: cert
    type: tls
    target: 127.0.0.1:{port}
    server_name: localhost
    ca_file: {tmp_path / "ca.pem"}
""")
    collector, grpc_port, http_port = procs.collector(config)
    agent, _ = procs.agent(grpc_port, "eu-west", env={"PORTAL_PASSWORD": PASSWORD})
    api = f"http://127.0.0.1:{http_port}"

    def passing() -> bool:
        checks = {c["name"]: c for c in get_json(f"{api}/api/v1/checks")["checks"]}
        return all(
            (checks[n]["regions"]["eu-west"]["last"] or {}).get("success")
            for n in ("login", "cert")
        )

    wait_for(passing, 20, "login flow and TLS check passing")
    _, metrics = http_get(f"{api}/metrics")
    for series in (
        'probe_ssl_earliest_cert_expiry{check="cert",region="eu-west"}',
        'probe_success{check="login",region="eu-west"} 1.0',
    ):
        assert series in metrics, series
    expiry = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('probe_ssl_earliest_cert_expiry{check="cert"')
    )
    not_after = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes()).not_valid_after_utc
    assert expiry == not_after.timestamp()

    answers = [
        http_get(f"{api}{path}")[1]
        for path in ("/api/v1/checks", "/api/v1/checks/login", "/metrics")
    ]
    logs = collector.output() + agent.output()
    assert "probe.completed" in logs
    for text in [*answers, logs]:
        assert PASSWORD not in text
    tokens = [json.loads(line) for line in agent.output().splitlines() if '"check":"login"' in line]
    assert tokens and all(PASSWORD not in json.dumps(t) for t in tokens)
