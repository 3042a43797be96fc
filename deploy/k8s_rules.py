"""Write deploy/k8s/base/prometheusrule.yaml from deploy/prometheus/rules.yml,
the one place the rules are written: `python -m deploy.k8s_rules`.
tests/deploy/test_k8s.py fails when the two drift apart."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
RULES = DEPLOY / "prometheus" / "rules.yml"
TARGET = DEPLOY / "k8s" / "base" / "prometheusrule.yaml"
HEADER = (
    "# Generated from deploy/prometheus/rules.yml by `python -m deploy.k8s_rules`;\n"
    "# edit that file, not this one. For Prometheus Operator users.\n"
)


def prometheus_rule() -> str:
    """The PrometheusRule manifest for the current rules.yml."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "vantage", "labels": {"app.kubernetes.io/name": "vantage"}},
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(manifest, sort_keys=False, width=100)


def main() -> None:
    """Rewrite the manifest."""
    TARGET.write_text(prometheus_rule())


if __name__ == "__main__":
    main()
