"""Agent memory with 1,000 checks, against an idle agent in the same run.

A real collector serves 1,000 http checks (60s interval, 5s timeout) for
eu-west, all against a local nginx (or the bundled demo target without
nginx). Three real agents run them and three idle agents, in a region with
no checks, are the baseline; all six run at once, so the wait is paid once.
Once every loaded agent reports 1,000 checks, we wait a full interval and
until each has run at least 1,000 probes, then read VmRSS and VmHWM (peak)
from /proc, with VmRSS split into RssAnon (heap, Python objects) and
RssFile (mapped library pages). MB here is 10^6 bytes.

    python -m bench.agent_memory
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import NamedTuple

from bench._common import (
    ROOT,
    TOKEN,
    BenchError,
    Procs,
    bench_procs,
    main_for,
    proc_status_bytes,
    start_collector,
    start_nginx,
    tcp_open,
    wait_until,
    write_http_checks,
)
from bench._figures import Row, median
from tests.support.binaries import find_binary
from tests.support.net import free_port, http_get
from tests.support.procs import Proc, agent_argv

NAME = "agent_memory"
CHECKS = 1000
REGION, IDLE_REGION = "eu-west", "eu-idle"
INTERVAL = 60.0
SETTLE = 5.0
"""Extra seconds past one interval, so the last checks' probes are done."""
DEADLINE = 150.0
AGENTS = 3
"""Agents of each kind, all at once: repetitions without paying the wait again."""
TARGET_MB = 80.0
"""Issue 12: RSS at 1,000 checks <= 80 MB, with no page-dropping of shared libraries."""
MB = 1e6
_STATUS_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


class Memory(NamedTuple):
    """One agent's memory from /proc/<pid>/status, in MB."""

    rss: float
    peak: float
    anon: float
    """RssAnon: the heap, Python objects, stacks."""
    file: float
    """RssFile: mapped pages of shared libraries and the Python modules,
    counted as the kernel counts them (nothing is dropped to lower it)."""


class Agent:
    """One agent process and its HTTP port."""

    def __init__(self, procs: Procs, grpc_port: int, name: str, region: str) -> None:
        self.name, self.port = name, free_port()
        argv = [*agent_argv(grpc_port, region, name, self.port), "--token", TOKEN]
        argv += ["--state-dir", str(procs.tmp / f"{name}-state")]
        self.proc: Proc = procs.start(name, argv)

    def health(self) -> dict[str, object]:
        """The agent's /healthz body."""
        self.proc.alive()
        status, body = http_get(f"http://127.0.0.1:{self.port}/healthz")
        if status != 200:
            raise BenchError(f"{self.name} /healthz answered {status}")
        health: dict[str, object] = json.loads(body)
        return health

    def probes(self) -> dict[str, float]:
        """Probes run so far, by outcome, from the agent's /metrics."""
        _, body = http_get(f"http://127.0.0.1:{self.port}/metrics")
        counts = {"success": 0.0, "failure": 0.0}
        for line in body.splitlines():
            if line.startswith("vantage_agent_probes_total{"):
                name, _, value = line.rpartition(" ")
                outcome = "success" if 'outcome="success"' in name else "failure"
                counts[outcome] += float(value)
        return counts

    def memory_mb(self) -> Memory:
        """RSS, peak RSS and the anonymous and file-backed parts, in MB."""
        pid = self.proc.pid
        rss, peak, anon, file = (proc_status_bytes(pid, key) / MB for key in _STATUS_KEYS)
        return Memory(rss, peak, anon, file)


def _target(procs: Procs) -> str:
    port = free_port()
    if find_binary("nginx") is not None:
        start_nginx(procs, http_port=port)
        return f"http://127.0.0.1:{port}/"
    print("  nginx not installed: probing the bundled demo target instead")
    argv = [sys.executable, "-m", "deploy.demo.target", "--listen", f"127.0.0.1:{port}"]
    proc = procs.start("demo-target", argv)
    wait_until(lambda: proc.alive() and tcp_open(port), 15, "demo target")
    return f"http://127.0.0.1:{port}/healthz"


def _wait_for_checks(agents: list[Agent], checks: int) -> None:
    def ready() -> bool:
        health = [a.health() for a in agents]
        return all(h["collector_connected"] and h["checks"] == checks for h in health)

    wait_until(ready, 60, f"agents to report {checks} checks", every=0.5)


def _wait_for_probes(loaded: list[Agent], since: float) -> dict[str, float]:
    """Wait one interval and until every loaded agent ran each check once."""
    deadline = since + DEADLINE
    while time.monotonic() < deadline:
        counts = [a.probes() for a in loaded]
        waited = time.monotonic() - since
        done = all(c["success"] + c["failure"] >= CHECKS for c in counts)
        if done and waited >= INTERVAL + SETTLE:
            return {k: sum(c[k] for c in counts) for k in ("success", "failure")}
        time.sleep(1.0)
    raise BenchError(f"agents did not run {CHECKS} probes each within {DEADLINE:g}s")


def run() -> list[Row]:
    """Start the fleet, wait a full interval, read RSS."""
    print(f"== {NAME}: agent RSS with {CHECKS} http checks vs an idle agent (takes ~75s)")
    with bench_procs(NAME) as procs:
        url = _target(procs)
        config = write_http_checks(procs.tmp / "checks.yaml", CHECKS, url, [REGION])
        _, grpc_port, _ = start_collector(procs, config)
        loaded = [Agent(procs, grpc_port, f"loaded-{i}", REGION) for i in range(AGENTS)]
        idle = [Agent(procs, grpc_port, f"idle-{i}", IDLE_REGION) for i in range(AGENTS)]
        _wait_for_checks(loaded, CHECKS)
        since = time.monotonic()
        _wait_for_checks(idle, 0)
        counts = _wait_for_probes(loaded, since)
        memory = {"loaded": [a.memory_mb() for a in loaded], "idle": [a.memory_mb() for a in idle]}
    print(
        f"  probes run by the loaded agents: {counts['success']:,.0f} ok, "
        f"{counts['failure']:,.0f} failed, over {time.monotonic() - since:.0f}s"
    )
    return [_report(memory)]


def _imports_mb() -> float:
    """RSS of a Python that only imported the agent: where an agent starts."""
    code = (
        "import agent.main, re; "
        "print(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return int(out.stdout) * 1024 / MB


def _report(memory: dict[str, list[Memory]]) -> Row:
    print(f"    (a Python that only imports agent.main: {_imports_mb():.1f} MB)")
    figures = {}
    for kind, values in memory.items():
        rss, peak = median([v.rss for v in values]), median([v.peak for v in values])
        anon, file = median([v.anon for v in values]), median([v.file for v in values])
        reps = ", ".join(f"{v.rss:.1f}" for v in values)
        print(
            f"    {kind:<7} RSS {rss:6.1f} MB (anon {anon:.1f}, file {file:.1f})  "
            f"peak {peak:6.1f} MB  per agent [{reps}]"
        )
        figures[kind] = (rss, peak)
    (rss, peak), (idle, _) = figures["loaded"], figures["idle"]
    print(f"    ratio loaded/idle RSS: {rss / idle:.2f}x; target <= {TARGET_MB:g} MB")
    value = f"{rss:.1f} MB RSS (peak {peak:.1f})"
    return Row(
        NAME,
        f"agent RSS, {CHECKS} checks",
        value,
        f"idle agent {idle:.1f} MB",
        rss / idle,
        f"<= {TARGET_MB:g} MB",
        rss <= TARGET_MB,
    )


def main() -> None:
    """Run this benchmark alone."""
    main_for(NAME, run)


if __name__ == "__main__":
    main()
