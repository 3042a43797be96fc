"""deploy/k8s renders with kustomize (`kubectl kustomize`) and every object
validates offline against the Kubernetes schemas (kubernetes-validate,
strict: an unknown field fails). The Prometheus Operator objects are checked
by what they mean: the PrometheusRule with promtool, each ServiceMonitor
against the Service ports it names."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.k8s_rules import TARGET, prometheus_rule
from tests.support.binaries import require_binary

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES = "1.33"
REGIONS = ("eu-west", "us-east", "ap-south")
SECRETS = ("base/secrets/agent-tokens", "base/secrets/api-tokens", "agent/secrets/token")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every kustomization rendered, from a copy with fake token files."""
    kubectl = require_binary("kubectl", "kubernetes-client")
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree)
    for secret in SECRETS:
        (tree / secret).write_text("fake-token-for-tests\n")
    out = {}
    for name in (".", "base", *(f"overlays/{r}" for r in REGIONS)):
        done = subprocess.run(
            [kubectl, "kustomize", str(tree / name)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{name}: {done.stderr}"
        out[name] = [d for d in yaml.safe_load_all(done.stdout) if d]
    return out


def _kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_every_object_validates_against_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for name, docs in rendered.items():
        for doc in docs:
            if doc["apiVersion"].startswith("monitoring.coreos.com/"):
                continue  # CRDs: checked by meaning below
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        assert docs, name


def test_the_validation_catches_a_misspelt_field(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    collector = copy.deepcopy(_kinds(rendered["base"], "StatefulSet")[0])
    collector["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFilesytem"
    ] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(collector, KUBERNETES, strict=True)


def test_one_agent_per_region_with_its_region(rendered: dict[str, list[dict[str, Any]]]) -> None:
    regions = {}
    for deployment in _kinds(rendered["."], "Deployment"):
        env = {
            e["name"]: e.get("value")
            for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        regions[deployment["metadata"]["name"]] = env["VANTAGE_REGION"]
    assert regions == {f"vantage-agent-{r}": r for r in REGIONS}
    for region in REGIONS:
        (service,) = _kinds(rendered[f"overlays/{region}"], "Service")
        assert service["spec"]["selector"]["vantage.dev/region"] == region


def test_pods_are_non_root_read_only_probed_and_sized(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    workloads = _kinds(rendered["."], "Deployment") + _kinds(rendered["."], "StatefulSet")
    assert len(workloads) == 4
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        mounted = {m["mountPath"] for m in container["volumeMounts"]}
        # With a read-only root, these are the only writable paths: every
        # workload's state dir (the image's VANTAGE_STATE_DIR) is a volume.
        assert {"/tmp", "/var/lib/vantage"} <= mounted
    (collector,) = _kinds(rendered["."], "StatefulSet")
    assert collector["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "state"
    env = {
        e["name"]: e.get("value")
        for e in collector["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    # Each pod's ordinal is its shard, and N matches the replicas.
    assert env["VANTAGE_SHARD"] == f"ordinal/{collector['spec']['replicas']}"


def test_config_and_tokens_come_from_a_configmap_and_secrets(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    docs = rendered["base"]
    (configmap,) = _kinds(docs, "ConfigMap")
    checks = tmp_path / "checks.yaml"
    checks.write_text(configmap["data"]["checks.yaml"])
    done = subprocess.run(
        [sys.executable, "-m", "cli", "validate", str(checks)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (secret,) = _kinds(docs, "Secret")
    assert {"agent-tokens", "api-tokens"} <= secret["data"].keys()
    (collector,) = _kinds(docs, "StatefulSet")
    volumes = {v["name"]: v for v in collector["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert volumes["tokens"]["secret"]["secretName"] == secret["metadata"]["name"]


def test_service_monitors_name_ports_their_services_have(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["."]
    services = _kinds(docs, "Service")
    monitors = _kinds(docs, "ServiceMonitor")
    assert len(monitors) == 4
    for monitor in monitors:
        wanted = monitor["spec"]["selector"]["matchLabels"]
        chosen = [s for s in services if wanted.items() <= s["metadata"]["labels"].items()]
        assert chosen, monitor["metadata"]["name"]
        for service in chosen:
            ports = {p["name"] for p in service["spec"]["ports"]}
            assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


def test_prometheus_rule_is_valid_and_matches_rules_yml(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    assert TARGET.read_text() == prometheus_rule(), (
        "deploy/k8s/base/prometheusrule.yaml drifted from deploy/prometheus/rules.yml: "
        "run `python -m deploy.k8s_rules`"
    )
    promtool = require_binary("promtool", "prometheus")
    (rule,) = _kinds(rendered["base"], "PrometheusRule")
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
