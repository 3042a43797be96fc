"""Build and run the Vantage image with podman, as REAL-COMPONENTS.md says
works on these machines: a Debian base made with mmdebstrap (nothing can be
pulled), runc with cgroupfs, `default_ulimits = []`, host networking so every
container listens on a loopback port of its own.

The base image is made once a day and kept in podman's store; the Vantage
image is built once per test session, and its dependency layer is cached
by podman between sessions.
"""

from __future__ import annotations

import datetime
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.binaries import require_binary

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/vantage:test"
BUILD_STAGE = "localhost/vantage-build:test"
"""The Dockerfile's build stage, tagged so its layers (the cache) are kept."""


def base_tag() -> str:
    """Today's Debian base image (made again each day, for security updates)."""
    return f"localhost/vantage-base:bookworm-{datetime.datetime.now(datetime.UTC):%Y%m%d}"


def _pip_mounts() -> list[str]:
    """`-v FILE:FILE:ro` for the host's pip settings and the files they
    name, so pip inside the build reaches the registry as the host does.
    Mounted, never copied into the image."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "debug"],
        capture_output=True,
        text=True,
        check=False,
    )
    files = set()
    for line in done.stdout.splitlines():
        for pattern in (
            r"^ +(/[^,]+), exists: True$",
            r"^ +[a-z.-]*(?:cert|constraint): (/.*)$",
            r"^ +PIP_CERT='(/[^']*)'$",
        ):
            match = re.match(pattern, line)
            if match and Path(match.group(1)).is_file():
                files.add(match.group(1))
    return [arg for f in sorted(files) for arg in ("-v", f"{f}:{f}:ro")]


@dataclass
class Podman:
    """podman with this machine's settings; every container and volume a
    test makes is removed by `cleanup`."""

    conf: Path
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        """A podman command line with the runtime settings."""
        return ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", *args]

    def env(self) -> dict[str, str]:
        """The environment podman (and podman-compose) run with."""
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def run(self, *args: str, timeout: float = 300) -> str:
        """Run podman; raise with its output when it fails."""
        done = subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args[:3])}: {done.stdout}{done.stderr}"[-4000:])
        return done.stdout

    def ok(self, *args: str) -> bool:
        """Whether a podman command succeeds."""
        done = subprocess.run(
            self.argv(*args), capture_output=True, env=self.env(), timeout=60, check=False
        )
        return done.returncode == 0

    def base_image(self, tmp: Path) -> str:
        """A Debian base with python3, made with mmdebstrap once a day."""
        tag = base_tag()
        if not self.ok("image", "exists", tag):
            mmdebstrap = require_binary("mmdebstrap", "mmdebstrap")
            tar = tmp / "base.tar"
            subprocess.run(
                [mmdebstrap, "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                 "bookworm", str(tar)],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
            self.run("import", str(tar), tag)
            tar.unlink()
        return tag

    def build(self, base: str) -> str:
        """Build deploy/docker/Dockerfile on `base`; returns the image name.

        Both stages are tagged, and the images they replace removed, so runs
        do not pile up images; the layers under the build stage's tag stay:
        they are the dependency cache."""
        for target, tag in (("build", BUILD_STAGE), (None, IMAGE)):
            old = self.image_id(tag)
            self.run(
                "build", "--format", "docker", "--network=host", "--build-arg", f"BASE={base}",
                *(["--target", target] if target else []), *_pip_mounts(),
                "-f", "deploy/docker/Dockerfile", "-t", tag, str(ROOT), timeout=600,
            )  # fmt: skip
            if old and old != self.image_id(tag):
                self.ok("rmi", old)  # fails harmlessly while a container still uses it
        return IMAGE

    def image_id(self, name: str) -> str:
        """The id of image `name`, "" when there is none."""
        done = subprocess.run(
            self.argv("image", "inspect", "--format", "{{.Id}}", name),
            capture_output=True, text=True, env=self.env(), timeout=60, check=False,
        )  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else ""

    def container(self, name: str, *args: str) -> str:
        """Start a detached host-network container named `name` plus a random
        suffix (tests in parallel sessions never collide); returns its name."""
        full = f"{name}-{secrets.token_hex(3)}"
        self.containers.append(full)
        self.run("run", "-d", "--name", full, "--network=host", *args)
        return full

    def volume(self, name: str) -> str:
        """A named volume removed at cleanup."""
        full = f"{name}-{secrets.token_hex(3)}"
        self.volumes.append(full)
        self.run("volume", "create", full)
        return full

    def logs(self, name: str) -> str:
        """A container's output, for failure messages."""
        done = subprocess.run(
            self.argv("logs", name), capture_output=True, text=True, env=self.env(), check=False
        )
        return (done.stdout + done.stderr)[-3000:]

    def cleanup(self) -> None:
        """Remove every container and volume this object made."""
        if self.containers:  # -v: the image's VOLUME makes an anonymous one each
            self.ok("rm", "-f", "-v", "-t", "2", *self.containers)
        if self.volumes:
            self.ok("volume", "rm", "-f", *self.volumes)


def podman_session(tmp: Path) -> Iterator[tuple[Podman, str]]:
    """Podman with the image built; skips (fails under CI=true) without podman."""
    require_binary("podman", "podman")
    require_binary("runc", "runc")
    conf = tmp / "containers.conf"
    # crun cannot set RLIMIT_NOFILE in these sandboxes: keep the host's limits;
    # the engine settings reach podman-compose's own podman calls too.
    conf.write_text(
        '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
    )
    podman = Podman(conf)
    image = podman.build(podman.base_image(tmp))
    try:
        yield podman, image
    finally:
        podman.cleanup()
