"""Start Debian's Prometheus and Alertmanager in the foreground for a test."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from tests.support.binaries import require_binary
from tests.support.net import free_port, http_get, wait_for
from tests.support.procs import Procs


def start_prometheus(
    procs: Procs, scrape_targets: list[str], tmp: Path, honor_labels: bool = False
) -> str:
    """Prometheus scraping `scrape_targets` every second; returns its base URL.
    `honor_labels` keeps the collector's `instance` (what was probed), as
    deploy/prometheus/prometheus.yml does."""
    binary = require_binary("prometheus", "prometheus")
    targets = ", ".join(f"'{t}'" for t in scrape_targets)
    config = tmp / "prometheus.yml"
    config.write_text(f"""\
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: vantage
    honor_labels: {str(honor_labels).lower()}
    static_configs: [{{targets: [{targets}]}}]
""")
    port = free_port()
    procs.start(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(f"{url}/-/ready")[0] == 200, 20, "prometheus /-/ready")
    return url


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """Instant query; returns the result vector."""
    status, body = http_get(f"{prometheus}/api/v1/query?query={urllib.parse.quote(promql)}")
    assert status == 200, body
    data = json.loads(body)
    assert data["status"] == "success", data
    return list(data["data"]["result"])


ALERTMANAGER_CONFIG = """\
route:
  receiver: nobody
  group_by: [alertname, check]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - {{matchers: ['severity="critical"'], receiver: a}}
    - {{matchers: ['severity="warning"'], receiver: b}}
receivers:
  - name: nobody
  - name: a
    webhook_configs: [{{url: "{base}/am/a", send_resolved: true}}]
  - name: b
    webhook_configs: [{{url: "{base}/am/b", send_resolved: true}}]
"""
"""Routes `critical` to webhook `{base}/am/a` and `warning` to `{base}/am/b`."""


def start_alertmanager(procs: Procs, tmp: Path, webhook_base: str) -> str:
    """Debian's Alertmanager in the foreground, gossip off; returns its URL."""
    binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    config = tmp / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG.format(base=webhook_base))
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]  # else it gossips on 0.0.0.0:9094
    procs.start("alertmanager", argv)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(f"{url}/-/ready")[0] == 200, 20, "alertmanager /-/ready")
    return url
