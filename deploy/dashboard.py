"""Write deploy/grafana/dashboards/vantage.json: `python -m deploy.dashboard`.

The dashboard is code so its panels stay uniform: every panel reads the
`datasource` variable (no hard-coded uid), filters on `$check` and
`$region`, carries a unit, and the latency and error panels carry the SLO
thresholds (500 and 800 ms, 1 %). `$service` narrows `$check` through
`vantage_check_info`. Every query reads a series exported by default
(docs/architecture.md, "Metrics"), none of the `--detailed-metrics` ones.
tests/deploy/test_dashboard.py fails when the JSON
drifts from this module; tests/integration/test_prometheus.py runs every
query against a real Prometheus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parent / "grafana" / "dashboards" / "vantage.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'check=~"$check",region=~"$region"'
LATENCY: list[tuple[float | None, str]] = [(None, "green"), (0.5, "orange"), (0.8, "red")]
ERRORS: list[tuple[float | None, str]] = [(None, "green"), (0.01, "red")]
UPTIME: list[tuple[float | None, str]] = [(None, "red"), (0.99, "orange"), (0.999, "green")]
CERT_DAYS: list[tuple[float | None, str]] = [(None, "red"), (7.0, "orange"), (14.0, "green")]
UP_DOWN: list[tuple[float | None, str]] = [(None, "red"), (1.0, "green")]

Steps = list[tuple[float | None, str]]
"""Threshold steps: (from value, colour); None is the base."""
Panel = tuple[str, str, str, Steps | None, int, list[tuple[str, str]]]
"""(title, type, unit, thresholds, width, [(expr, legend)])."""

PANELS: list[Panel] = [
    ("Probe success by region", "timeseries", "bool_yes_no", UP_DOWN, 12,
     [(f"probe_success{{{SEL}}}", "{{check}} {{region}}")]),
    ("p95 latency, 5m window", "timeseries", "s", LATENCY, 12,
     [(f'vantage_check_latency_p95_seconds{{{SEL},window="5m"}}', "{{check}} {{region}}")]),
    ("Error ratio, 5m window", "timeseries", "percentunit", ERRORS, 12,
     [(f'vantage_check_error_ratio{{{SEL},window="5m"}}', "{{check}} {{region}}")]),
    ("Uptime 24h", "stat", "percentunit", UPTIME, 6,
     [(f"avg by (check) (avg_over_time(probe_success{{{SEL}}}[24h]))", "{{check}}")]),
    ("Uptime 7d", "stat", "percentunit", UPTIME, 6,
     [(f"avg by (check) (avg_over_time(probe_success{{{SEL}}}[7d]))", "{{check}}")]),
    ("Duration of the last probe", "timeseries", "s", LATENCY, 12,
     [(f"probe_duration_seconds{{{SEL}}}", "{{check}} {{region}}")]),
    ("HTTP status of the last probe", "timeseries", "short", None, 12,
     [(f"probe_http_status_code{{{SEL}}}", "{{check}} {{region}}")]),
    ("Results by outcome", "timeseries", "reqps", None, 12,
     [(f"sum by (check, outcome) (rate(vantage_probe_results_total{{{SEL}}}[5m]))",
       "{{check}} {{outcome}}")]),
    ("Days until certificate expiry", "stat", "d", CERT_DAYS, 6,
     [(f"min by (check) (probe_ssl_earliest_cert_expiry{{{SEL}}} - time()) / 86400",
       "{{check}}")]),
    ("DNS checks", "stat", "bool_yes_no", UP_DOWN, 6,
     [(f'min by (check) (probe_success{{{SEL}}}) and on (check) vantage_check_info{{type="dns"}}',
       "{{check}}")]),
    ("Email authentication (SPF, DKIM, DMARC)", "stat", "bool_yes_no", UP_DOWN, 6,
     [(f"min by (check) (probe_success{{{SEL}}}) and on (check) "
       'vantage_check_info{type="email_auth"}', "{{check}}")]),
    ("Agents connected by region", "stat", "short", UP_DOWN, 6,
     [('sum by (region) (vantage_agent_connected{region=~"$region"})', "{{region}}")]),
    ("Flapping checks", "stat", "short", [(None, "green"), (1.0, "orange")], 6,
     [('vantage_check_flapping{check=~"$check"}', "{{check}}")]),
    ("Notifications by outcome", "timeseries", "short", None, 12,
     [("sum by (receiver, outcome) (increase(vantage_notifications_total[1h]))",
       "{{receiver}} {{outcome}}")]),
]  # fmt: skip


def _thresholds(steps: Steps | None) -> dict[str, Any]:
    steps = steps or [(None, "green")]
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def _panel(index: int, spec: Panel, x: int, y: int) -> dict[str, Any]:
    title, kind, unit, thresholds, width, targets = spec
    defaults: dict[str, Any] = {"unit": unit, "thresholds": _thresholds(thresholds)}
    if kind == "timeseries" and thresholds:
        defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
    return {
        "id": index + 1,
        "title": title,
        "type": kind,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": width, "h": 8},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": e, "legendFormat": lg}
            for i, (e, lg) in enumerate(targets)
        ],
    }


def _variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name, "type": "query", "datasource": DATASOURCE,
        "query": {"query": query, "refId": name}, "definition": query, "refresh": 2,
        "includeAll": True, "multi": True, "allValue": ".*",
        "current": {"text": "All", "value": "$__all"}, "sort": 1,
    }  # fmt: skip


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model."""
    panels, x, y = [], 0, 0
    for index, spec in enumerate(PANELS):
        width = spec[4]
        if x + width > 24:
            x, y = 0, y + 8
        panels.append(_panel(index, spec, x, y))
        x += width
    variables = [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
         "current": {}, "hide": 0},
        _variable("service", "label_values(vantage_check_info, service)"),
        _variable("check", 'label_values(vantage_check_info{service=~"$service"}, check)'),
        _variable("region", "label_values(probe_success, region)"),
    ]  # fmt: skip
    return {
        "title": "Vantage: synthetic checks",
        "uid": "vantage-checks",
        "schemaVersion": 39,
        "tags": ["vantage", "synthetic-monitoring"],
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "templating": {"list": variables},
        "panels": panels,
    }


def render() -> str:
    """The file's text."""
    return json.dumps(dashboard(), indent=2) + "\n"


def main() -> None:
    """Rewrite the dashboard file."""
    TARGET.write_text(render())


if __name__ == "__main__":
    main()
