"""The README keeps its two commands on top and links only to files that
exist; docs/operations.md has a runbook section for every alert that the
collector or the shipped Prometheus rules can fire, at the anchor their
`runbook_url` names."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"


def _collector_alerts() -> set[str]:
    """Alert names the collector fires, read from its source."""
    names: set[str] = set()
    classes: set[str] = set()
    for path in (ROOT / "collector" / "alerting").glob("*.py"):
        text = path.read_text()
        names |= set(
            re.findall(
                r'"((?:Check|Agent|Monitoring|Latency|ErrorRatio|Cert|Dns|EmailAuth|Heartbeat|Job)[A-Za-z]*)"',
                text,
            )
        )
        classes |= set(re.findall(r"^class (\w+)", text, re.M))
    # Class names in `__all__` (CheckPolicy, HeartbeatMonitor) meet the pattern too: not alerts.
    return {n for n in names if re.fullmatch(r"[A-Z][a-z]+(?:[A-Z][a-z]+)+", n)} - classes


def _rule_alerts() -> dict[str, str]:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    return {
        r["alert"]: r.get("annotations", {}).get("runbook_url", "")
        for g in rules["groups"]
        for r in g["rules"]
        if "alert" in r
    }


def test_every_alert_has_a_runbook_section() -> None:
    headings = set(re.findall(r"^### (\w+)$", OPERATIONS.read_text(), re.M))
    expected = {"CheckDown", "AgentDown", "MonitoringBlind", "LatencyHigh", "ErrorRatioHigh",
                "CertExpiring", "DnsMismatch", "EmailAuthFailing", "HeartbeatMissed", "JobFailed"}  # fmt: skip
    collector = _collector_alerts()
    assert expected <= collector, expected - collector
    rules = _rule_alerts()
    missing = (collector | set(rules)) - headings
    assert not missing, f"docs/operations.md has no runbook for {sorted(missing)}"
    for alert, url in rules.items():
        if url:
            assert url == f"docs/operations.md#{alert.lower()}", (alert, url)


def test_readme_starts_with_the_two_commands_and_links_to_files_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    first = readme.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert first[0].startswith("make run") and first[1].startswith("make test")
    links = re.findall(r"\]\(((?!https?:)[^)#]+)", readme)
    assert links
    for link in links:
        assert (ROOT / link).exists(), link
    for doc in ("docs/configuration.md", "docs/operations.md", "docs/performance.md"):
        assert f"]({doc})" in readme, doc
