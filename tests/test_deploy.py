"""deploy/: the Prometheus, Alertmanager and compose files are valid, and the
rules name series the collector really exports."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from collector.metrics import CollectorMetrics
from collector.server import sample_of
from collector.stats.series import Stats
from tests.support.binaries import require_binary
from vantage.v1 import vantage_pb2 as pb

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def run(*argv: str, cwd: Path = DEPLOY) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_prometheus_config_and_rules_are_valid_and_their_unit_tests_pass() -> None:
    promtool = require_binary("promtool", "prometheus")
    assert "SUCCESS" in run(promtool, "check", "config", "prometheus/prometheus.yml")
    assert "SUCCESS: 6 rules found" in run(promtool, "check", "rules", "prometheus/rules.yml")
    assert "SUCCESS" in run(promtool, "test", "rules", "rules_test.yml", cwd=DEPLOY / "prometheus")


def test_every_shipped_alert_has_a_runbook_in_docs_operations() -> None:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert alerts
    for rule in alerts:
        anchor = rule["alert"].lower()
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{anchor}", rule["alert"]


def test_alertmanager_example_is_valid() -> None:
    amtool = require_binary("amtool", "prometheus-alertmanager")
    assert "SUCCESS" in run(amtool, "check-config", "alertmanager/alertmanager.yml")


def test_rules_name_only_series_the_collector_exports() -> None:
    stats = Stats()
    raw = pb.Result(
        check="home", check_type="tls", started_at=1000.0, duration_seconds=0.1, success=True
    )
    raw.tls.not_after, raw.tls.version = 2e9, "TLSv1.3"
    stats.ingest([sample_of(raw, "a", "eu-west")], now=1000.0)
    metrics = CollectorMetrics(stats, clock=lambda: 1000.0)
    metrics.agent_connected.labels("a", "eu-west").set(1)
    metrics.notifications.labels("pager", "failure").inc()

    async def series() -> bytes:
        return b"".join([chunk async for chunk in metrics.series.render()])

    text = asyncio.run(series()) + generate_latest(metrics.registry)
    exported = set(re.findall(r"^(\w+)", text.decode(), re.M))
    rules = (DEPLOY / "prometheus" / "rules.yml").read_text()
    used = set(re.findall(r"\b(vantage_\w+|probe_\w+)", rules))
    assert used, "the rules use no Vantage series"
    assert used <= exported, used - exported


def test_compose_builds_from_the_dockerfile_and_mounts_files_that_exist() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {
        "collector",
        "agent-eu-west",
        "agent-us-east",
        "agent-ap-south",
        "prometheus",
        "alertmanager",
        "grafana",
    } <= set(services)
    assert (DEPLOY.parent / services["collector"]["build"]["dockerfile"]).is_file()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M):
        assert (DEPLOY.parent / source).exists(), source
