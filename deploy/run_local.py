"""`make run`: a collector, three agents and the demo target on loopback.

Ctrl-C stops everything. Logs from every process go to .state/run/*.log;
this script prints where to look. Set VANTAGE_CONFIG to use your own
checks file instead of deploy/examples/checks.yaml.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state" / "run"
REGIONS = {"eu-west": 9792, "us-east": 9793, "ap-south": 9794}
BIN = Path(sys.executable).parent


def _wait_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def _start(name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (STATE / f"{name}.log").open("wb")
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def main() -> int:
    """Start everything, wait for Ctrl-C, stop everything."""
    STATE.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)  # fresh per run: nothing secret is stored
    env = {**os.environ, "VANTAGE_AGENT_TOKENS": token, "PYTHONUNBUFFERED": "1"}
    config = os.environ.get("VANTAGE_CONFIG", str(ROOT / "deploy" / "examples" / "checks.yaml"))
    procs = [_start("demo-target", [sys.executable, "-m", "deploy.demo.target"], env)]
    procs.append(
        _start(
            "collector",
            [
                str(BIN / "vantage-collector"),
                "--config",
                config,
                "--state-dir",
                str(STATE / "collector"),
            ],
            env,
        )
    )
    if not _wait_port(9790):
        print("collector did not start; see .state/run/collector.log", file=sys.stderr)
        return _stop(procs, 1)
    for region, port in REGIONS.items():
        argv = [
            str(BIN / "vantage-agent"),
            "--collector",
            "127.0.0.1:9790",
            "--region",
            region,
            "--agent-id",
            f"agent-{region}",
            "--http-listen",
            f"127.0.0.1:{port}",
        ]
        procs.append(_start(f"agent-{region}", argv, {**env, "VANTAGE_TOKEN": token}))
    print(f"""Vantage is running on loopback (config: {config})
  status     http://127.0.0.1:9791/   (the status page; refreshes itself)
  collector  gRPC 127.0.0.1:9790   HTTP http://127.0.0.1:9791/metrics  /api/v1/checks
  agents     eu-west :9792  us-east :9793  ap-south :9794   (/metrics, /healthz)
  demo       http://127.0.0.1:8080/  /healthz  /slow
  logs       {STATE}/*.log
First results arrive within one interval (15s in the example). Ctrl-C stops everything.""")
    return _wait(procs)


def _wait(procs: list[subprocess.Popen[bytes]]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        dead = [p.args for p in procs if p.poll() is not None]
        print(f"a process exited: {dead}; stopping the rest", file=sys.stderr)
        return _stop(procs, 1)
    except KeyboardInterrupt:
        print("\nstopping...")
        return _stop(procs, 0)


def _stop(procs: list[subprocess.Popen[bytes]], code: int) -> int:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
