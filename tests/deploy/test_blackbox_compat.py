"""blackbox_exporter compatibility, against the real one: the same HTTPS
probe (a redirect, then 200 over TLS 1.3) through Debian's
prometheus-blackbox-exporter and through a Vantage agent and collector;
the series and their label values must agree. Then a real Prometheus
scrapes the collector and the queries of a public blackbox dashboard
(Grafana 7587, tests/deploy/fixtures) each return data for the target.
The collector runs with `--detailed-metrics`: the blackbox names beyond
the default few, and the `instance` label, are opt-in (their cost at 50k
checks)."""

from __future__ import annotations

import json
import re
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from tests.support.binaries import require_binary
from tests.support.net import free_port, http_get, wait_for
from tests.support.procs import Procs
from tests.support.prom import query, start_prometheus

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent / "fixtures" / "blackbox_dashboard_7587.json"
NOT_YET: set[str] = set()
"""blackbox series Vantage does not emit (none now)."""
SAME_VALUE = (
    "probe_success", "probe_http_status_code", "probe_http_version", "probe_http_ssl",
    "probe_http_redirects", "probe_http_content_length", "probe_http_uncompressed_body_length",
    "probe_ssl_earliest_cert_expiry", "probe_ssl_last_chain_expiry_timestamp_seconds",
    "probe_failed_due_to_regex", "probe_ip_protocol", "probe_ip_addr_hash",
)  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/start":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"hello from the target\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def https_target(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a trustme certificate; (URL, CA file)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/start", ca_file
    finally:
        server.shutdown()
        server.server_close()


def _series(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        match = re.match(r"^(probe_\w+)(?:\{(.*)\})? (\S+)$", line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            found.setdefault(match.group(1), []).append((labels, float(match.group(3))))
    return found


def _blackbox(
    procs: Procs, tmp: Path, url: str, ca_file: Path
) -> dict[str, list[tuple[dict[str, str], float]]]:
    binary = require_binary("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
    config = tmp / "blackbox.yml"
    config.write_text(f"""\
modules:
  https:
    prober: http
    timeout: 5s
    http: {{preferred_ip_protocol: ip4, tls_config: {{ca_file: {ca_file}}}}}
""")
    port = free_port()
    procs.start(
        "blackbox", [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"]
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(f"{base}/-/healthy")[0] == 200, 10, "blackbox_exporter")
    status, body = http_get(f"{base}/probe?module=https&target={urllib.parse.quote(url, safe='')}")
    assert status == 200, body
    return _series(body)


def test_vantage_emits_what_blackbox_emits_for_the_same_https_probe(
    procs: Procs, https_target: tuple[str, Path], tmp_path: Path
) -> None:
    url, ca_file = https_target
    theirs = _blackbox(procs, tmp_path, url, ca_file)
    assert theirs["probe_success"][0][1] == 1.0, theirs
    config = tmp_path / "checks.yaml"
    config.write_text(f"""\
defaults: {{interval: 1s, timeout: 800ms, regions: [eu-west]}}
checks:
  - {{name: site, type: http, url: "{url}", ca_file: "{ca_file}"}}
""")
    # The rest of blackbox's names and the `instance` label are detailed.
    _, grpc_port, http_port = procs.collector(config, env={"VANTAGE_DETAILED_METRICS": "1"})
    procs.agent(grpc_port, "eu-west")
    metrics = f"http://127.0.0.1:{http_port}/metrics"
    ours = wait_for(
        lambda: (s := _series(http_get(metrics)[1])).get("probe_http_ssl") and s, 20, "a result"
    )
    assert set(theirs) - set(ours) == NOT_YET, set(theirs) - set(ours)
    for name in SAME_VALUE:
        (labels, value), *_ = ours[name]
        assert labels["instance"] == url and labels["target"] == url, labels
        expected = theirs[name][0][1]
        if name.startswith("probe_ssl"):
            assert value == pytest.approx(expected, abs=1), name  # unix seconds
        else:
            assert value == expected, (name, value, expected)
    assert [lb["version"] for lb, _ in ours["probe_tls_version_info"]] == [
        lb["version"] for lb, _ in theirs["probe_tls_version_info"]
    ]
    # The leaf certificate: the same fingerprint and label names (blackbox
    # writes subject and issuer in Go's order, we in RFC 4514's).
    (ours_chain, _), (theirs_chain, _) = (
        ours["probe_ssl_last_chain_info"][0],
        theirs["probe_ssl_last_chain_info"][0],
    )
    assert ours_chain["fingerprint_sha256"] == theirs_chain["fingerprint_sha256"]
    assert set(theirs_chain) <= set(ours_chain) | {"serialnumber"}, set(theirs_chain) - set(
        ours_chain
    )
    our_phases = {lb["phase"] for lb, _ in ours["probe_http_duration_seconds"]}
    assert our_phases <= {lb["phase"] for lb, _ in theirs["probe_http_duration_seconds"]}
    assert {"connect", "tls", "processing", "transfer"} <= our_phases

    prometheus = start_prometheus(procs, [f"127.0.0.1:{http_port}"], tmp_path, honor_labels=True)
    target = json.loads(FIXTURE.read_text())
    wait_for(lambda: query(prometheus, f'probe_success{{instance="{url}"}}'), 45,
             "the probed URL as instance in Prometheus", every=0.5)  # fmt: skip
    empty = [
        p["title"]
        for p in target["panels"]
        if not query(prometheus, p["expr"].replace("$target", url))
    ]
    assert not empty, empty
