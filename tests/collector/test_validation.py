"""Detection budget and routing validation: each bad file maps to its exact
message, each check's settings to its worst-case time to page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collector.alerting.config import AlertingConfig
from collector.config_source import load_collector_config
from common.config import Config, ConfigError
from common.config.detection import SLACK, time_to_confirm


@pytest.mark.parametrize(
    ("interval", "timeout", "retry_after", "failures", "seconds"),
    [
        (60, 10, 10, 2, 90),  # the hang: interval + 2 x timeout + retry_after
        (60, 10, 10, 3, 130),  # a re-check fails: back to the regular slot, + timeout
        (60, 10, 10, 4, 150),  # ... which is re-checked again
        (60, 1, 10, 2, 72),  # a fast error instead of a hang
        (10, 5, 10, 2, 25),  # retry_after past the next slot: no re-check
        (30, 5, 10, 1, 35),  # one failure is enough: interval + timeout
    ],
    ids=["defaults-hang", "threshold-3", "threshold-4", "fast-error", "no-room-to-retry", "one"],
)
def test_time_to_confirm(
    interval: float, timeout: float, retry_after: float, failures: int, seconds: float
) -> None:
    assert time_to_confirm(interval, timeout, retry_after, failures) == seconds


ROUTES = """\
alerting:
  detection_budget: 2m
  route:
    receivers: [chat]
    routes:
      - match: {severity: SEVERITY}
        receivers: [pager]
  receivers:
    - {name: pager, type: webhook, url: "http://127.0.0.1:9/p"}
    - {name: chat, type: webhook, url: "http://127.0.0.1:9/c"}
checks:
  - name: home
    type: http
    url: https://www.example.com/
    regions: [eu-west]
    labels: {severity: LABEL}
    failure_threshold: THRESHOLD
"""


def load(
    tmp_path: Path, severity: str = "critical", label: str = "critical", threshold: int = 2
) -> tuple[Config, AlertingConfig]:
    """The file above with these values, loaded as `vantage validate` does."""
    path = tmp_path / "checks.yaml"
    text = ROUTES.replace("SEVERITY", severity).replace("LABEL", label)
    path.write_text(text.replace("THRESHOLD", str(threshold)))
    return load_collector_config(path, env={})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"severity": "critcal"},
            "checks.yaml:6: alerting: field 'route.routes.0.match': severity 'critcal' is not "
            "one of critical, warning, info (did you mean 'critical'?)",
        ),
        (
            {"label": "critcal"},
            "checks.yaml:16: check 'home': field 'labels': severity 'critcal' is not one of "
            "critical, warning, info (did you mean 'critical'?)",
        ),
    ],
    ids=["route-severity-typo", "check-severity-typo"],
)
def test_severity_typos_are_errors(tmp_path: Path, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **overrides)
    assert caught.value.problems == [message]


@pytest.mark.parametrize(
    ("overrides", "warnings"),
    [
        ({}, []),
        (
            {"threshold": 3},
            [
                f"checks.yaml:12: check 'home': pages {130 + SLACK:.0f}s after a failure at worst, "
                "over the detection budget of 120s "
                "(lower interval, timeout, retry_after or failure_threshold)"
            ],
        ),
        (
            {"label": "warning"},
            [
                "checks.yaml:12: check 'home': its alerts match no route but the default "
                "(receivers chat): check its labels (alertname=CheckDown, check=home, "
                "check_type=http, severity=warning)"
            ],
        ),
    ],
    ids=["clean", "over-budget", "only-the-default-route"],
)
def test_warnings(tmp_path: Path, overrides: dict[str, Any], warnings: list[str]) -> None:
    config, _ = load(tmp_path, **overrides)
    assert list(config.warnings) == warnings
