"""The `alerting:` section in a file: each bad section maps to its exact
message, located `FILE:LINE` and naming the field, as the collector's
start and reload (`load_collector_config`) and `vantage validate` report it,
together with the check errors of the same file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.alerting.notifiers import RECEIVER_TYPES
from collector.alerting.receivers import PagerDutySpec
from collector.config_source import load_collector_config
from common import redaction
from common.config import ConfigError

CHECKS = """\
checks:
  - name: home
    type: http
    url: https://www.example.com/
"""
TYPES = ", ".join(RECEIVER_TYPES)

BAD = [
    pytest.param(
        "alerting:\n"
        "  route: {receivers: [pager]}\n"
        "  receivers:\n"
        "    - {name: pager, type: pager-duty, routing_key: k}\n",
        "checks.yaml:4: receiver 'pager': field 'type': 'pager-duty' is not one of "
        f"{TYPES} (did you mean 'pagerduty'?)",
        id="unknown-receiver-type",
    ),
    pytest.param(
        "alerting:\n"
        "  route: {receivers: [pager]}\n"
        "  receivers:\n"
        "    - name: pager\n"
        "      type: pagerduty\n",
        "checks.yaml:4: receiver 'pager': field 'routing_key': Field required",
        id="missing-option",
    ),
    pytest.param(
        "alerting:\n"
        "  route: {receivers: [mail]}\n"
        "  receivers:\n"
        "    - name: mail\n"
        "      type: email\n"
        "      from: vantage@example.com\n"
        "      to: oncall@example.com\n"
        "      smtp:\n"
        "        host: 127.0.0.1\n"
        "        starttls: 'yes'\n",
        "checks.yaml:10: receiver 'mail': field 'smtp.starttls': expected true or false, got string",
        id="wrong-type",
    ),
    pytest.param(
        "alerting:\n"
        "  route:\n"
        "    receivers: [pager]\n"
        "    group_interval: 5\n"
        "  receivers:\n"
        "    - {name: pager, type: webhook, url: 'http://127.0.0.1:9/'}\n",
        "checks.yaml:4: alerting: field 'route.group_interval': bad duration 5: add a unit, e.g. 5s",
        id="bad-duration",
    ),
    pytest.param(
        "alerting:\n"
        "  route: {receivers: [pager]}\n"
        "  receivers:\n"
        "    - name: pager\n"
        "      type: webhook\n"
        "      url: http://127.0.0.1:9/\n"
        "      tiemout: 5s\n",
        "checks.yaml:7: receiver 'pager': unknown key 'tiemout' (did you mean 'timeout'?)",
        id="unknown-receiver-field",
    ),
    pytest.param(
        "alerting:\n"
        "  route:\n"
        "    receivers: [pager]\n"
        "    routes:\n"
        "      - match: {team: web}\n"
        "        recievers: [pager]\n"
        "  receivers:\n"
        "    - {name: pager, type: webhook, url: 'http://127.0.0.1:9/'}\n",
        "checks.yaml:6: alerting: unknown key 'recievers' (did you mean 'receivers'?)",
        id="unknown-route-field",
    ),
    pytest.param(
        "alerting:\n"
        "  route:\n"
        "    receivers: [pager]\n"
        "    routes:\n"
        "      - match: {team: web}\n"
        "        receivers: [web-chat]\n"
        "  receivers:\n"
        "    - {name: pager, type: webhook, url: 'http://127.0.0.1:9/'}\n"
        "    - {name: webchat, type: slack, url: 'http://127.0.0.1:9/'}\n",
        "checks.yaml:6: alerting: field 'route.routes.0.receivers': "
        "unknown receiver 'web-chat' (did you mean 'webchat'?)",
        id="route-to-undefined-receiver",
    ),
    pytest.param(
        "alerting:\n"
        "  route: {receivers: [pager]}\n"
        "  receivers:\n"
        "    - name: pager\n"
        "      type: pagerduty\n"
        "      routing_key: ${env:FAKE_UNSET_KEY}\n",
        "checks.yaml:6: receiver 'pager': field 'routing_key': "
        "environment variable FAKE_UNSET_KEY is not set",
        id="unset-env",
    ),
    pytest.param(
        "alerting:\n"
        "  route: {receivers: [pager]}\n"
        "  receivers:\n"
        "    - {name: pager, type: webhook, url: 'http://127.0.0.1:9/${token}'}\n",
        "checks.yaml:4: receiver 'pager': field 'url': "
        "only ${env:NAME} is resolved in a receiver setting",
        id="not-an-env-reference",
    ),
    pytest.param(
        "alerting:\n"
        "  detection_budget: soon\n",
        "checks.yaml:2: alerting: field 'detection_budget': bad duration 'soon': "
        "write a number with ms, s, m, h or d, e.g. 30s, 7d or 1h30m",
        id="bad-budget",
    ),
]  # fmt: skip


def write(tmp_path: Path, text: str) -> Path:
    """`text` as tmp_path/checks.yaml."""
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("section", "message"), BAD)
def test_each_bad_section_is_located_and_named(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_collector_config(write(tmp_path, section + CHECKS), env={})
    assert caught.value.problems == [message]


def test_a_bad_receiver_url_never_echoes_its_token(tmp_path: Path) -> None:
    token = "T0KEN-fake-0123456789"  # pragma: allowlist secret
    section = (
        "alerting:\n  route: {receivers: [chat]}\n  receivers:\n"
        f"    - {{name: chat, type: slack, url: 'ftp://hooks.example.com/{token}'}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_collector_config(write(tmp_path, section + CHECKS), env={})
    assert caught.value.problems == [
        "checks.yaml:4: receiver 'chat': field 'url': "
        "expected an http:// or https:// URL with a host"
    ]
    assert token not in str(caught.value)


def test_a_secret_from_the_environment_is_resolved_and_redacted(tmp_path: Path) -> None:
    key = "pd-fake-routing-key-0123456789"  # pragma: allowlist secret
    section = (
        "alerting:\n  route: {receivers: [pager]}\n  receivers:\n"
        "    - {name: pager, type: pagerduty, routing_key: '${env:FAKE_PD_KEY}'}\n"
    )
    try:
        _, alerting = load_collector_config(
            write(tmp_path, section + CHECKS), env={"FAKE_PD_KEY": key}
        )
        [pager] = alerting.receivers
        assert isinstance(pager.spec, PagerDutySpec)
        assert pager.spec.routing_key == key
        assert key not in redaction.scrub(f"sent with {key}")
    finally:
        redaction.forget_all()


BOTH = """\
checks:
  - name: home
    type: http
    url: https://www.example.com/
    timout: 5s
alerting:
  route: {receivers: [pager]}
  receivers:
    - name: pager
      type: webhook
      url: http://127.0.0.1:9/hook
      retries: 3
"""


def test_validate_reports_a_bad_check_and_a_bad_receiver_in_one_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "validate", str(write(tmp_path, BOTH))],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "checks.yaml:5: check 'home': unknown key 'timout' (did you mean 'timeout'?)",
        "checks.yaml:12: receiver 'pager': unknown key 'retries'",
    ]
