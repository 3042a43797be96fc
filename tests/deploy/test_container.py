"""The image, built with podman and run for real: a collector and three
agents as containers, each on a loopback port of its own (host network)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.net import free_port, http_get, reporting, wait_for
from tests.support.podman import Podman

pytestmark = pytest.mark.integration

REGIONS = ("eu-west", "us-east", "ap-south")
TOKEN = "fake-agent-token-for-tests"


def _config(path: Path, target: str) -> Path:
    path.write_text(f"""\
defaults: {{interval: 1s, timeout: 800ms, regions: [{", ".join(REGIONS)}]}}
checks:
  - {{name: home, type: http, url: "{target}/", expect: {{body_contains: Welcome}}}}
  - {{name: api-health, type: http, url: "{target}/healthz"}}
""")
    path.chmod(0o644)
    return path


def test_collector_and_three_agents_run_as_containers(
    podman_image: tuple[Podman, str], podman: Podman, tmp_path: Path
) -> None:
    _, image = podman_image
    demo, grpc, http = free_port(), free_port(), free_port()
    podman.container(
        "vantage-demo", image, "python", "-m", "deploy.demo.target", "--listen", f"127.0.0.1:{demo}"
    )
    config = _config(tmp_path / "checks.yaml", f"http://127.0.0.1:{demo}")
    state = podman.volume("vantage-state")
    collector = podman.container(
        "vantage-collector",
        "-v", f"{config}:/etc/vantage/checks.yaml:ro", "-v", f"{state}:/var/lib/vantage",
        "-e", f"VANTAGE_AGENT_TOKENS={TOKEN}",
        "-e", f"VANTAGE_COLLECTOR_GRPC_LISTEN=127.0.0.1:{grpc}",
        "-e", f"VANTAGE_COLLECTOR_HTTP_LISTEN=127.0.0.1:{http}",
        image,
    )  # fmt: skip
    agent_ports = {region: free_port() for region in REGIONS}
    for region, port in agent_ports.items():
        podman.container(
            f"vantage-agent-{region}",
            "-e", f"VANTAGE_COLLECTOR=127.0.0.1:{grpc}", "-e", f"VANTAGE_REGION={region}",
            "-e", f"VANTAGE_TOKEN={TOKEN}", "-e", f"VANTAGE_AGENT_HTTP_LISTEN=127.0.0.1:{port}",
            "-e", f"VANTAGE_AGENT_ID=agent-{region}",
            image, "vantage-agent",
        )  # fmt: skip
    want = {(c, r) for c in ("home", "api-health") for r in REGIONS}
    try:
        wait_for(
            lambda: reporting(http, REGIONS, success=True) >= want,
            40,
            "every check from every region",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{podman.logs(collector)}") from None
    status, metrics = http_get(f"http://127.0.0.1:{http}/metrics")
    assert status == 200
    for region in REGIONS:
        assert f'probe_success{{check="home",region="{region}"' in metrics.replace(" ", "")
        agent_status, agent_metrics = http_get(f"http://127.0.0.1:{agent_ports[region]}/metrics")
        assert agent_status == 200 and "vantage_agent" in agent_metrics
    # The image's HEALTHCHECK asks the collector's /readyz, found from inside.
    assert podman.ok("healthcheck", "run", collector), podman.logs(collector)
    # The collector runs as the image's non-root user and keeps its state in
    # the volume, which that user can write.
    user = podman.run("exec", collector, "id", "-u").strip()
    assert user == "10001"
    listing = podman.run("exec", collector, "ls", "/var/lib/vantage")
    assert listing.split(), "the collector wrote nothing to its state volume"


def test_the_collector_starts_with_the_images_defaults_on_all_interfaces(
    podman_image: tuple[Podman, str], podman: Podman
) -> None:
    """No flags but a token: the image's own config, the volume, 0.0.0.0."""
    _, image = podman_image
    # Own network namespace (no --network=host), so the default ports cannot
    # collide with anything on the machine; the check runs from inside.
    name = f"vantage-defaults-{free_port()}"
    podman.containers.append(name)
    podman.run(
        "run", "-d", "--name", name, "--network=none", "-e", f"VANTAGE_AGENT_TOKENS={TOKEN}", image
    )
    wait_for(lambda: podman.ok("healthcheck", "run", name), 20, "the collector's /readyz")
    inspect = json.loads(podman.run("inspect", name))[0]
    assert inspect["Config"]["User"] == "10001:10001"
    env = dict(e.split("=", 1) for e in inspect["Config"]["Env"])
    assert env["VANTAGE_IN_CONTAINER"] == "1"
    assert "VANTAGE_HTTP_LISTEN" not in env
    logs = podman.logs(name)
    assert '"grpc":"0.0.0.0:9790"' in logs and '"http":"0.0.0.0:9791"' in logs, logs
    assert "/etc/vantage/checks.yaml" in logs, logs


def test_the_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "hadolint"), "deploy/docker/Dockerfile"],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
