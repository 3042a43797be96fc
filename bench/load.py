"""`python -m bench.load`: a fleet under steady production load.

10 real agents x 1,000 http checks at a 10 s interval into one real
collector, probing nginx on loopback (2% of the checks ask for a missing
page, so ~2% of results fail), for at least two minutes after every agent
reports. Each (check, agent) runs once per interval at its own slot, and
agents send their batches as they fill: the production pattern.

Printed, each beside its baseline from the same run:
- ingest rate (baseline: the offered rate, agents x checks / interval);
- collector CPU and RSS (baseline: the same collector before the agents);
- agent RSS (baseline: one agent with its config and no load yet is not
  separable, so the mean and the max of the ten are shown);
- spool backlog at the start and the end of the window (it must be flat);
- end-to-end delay p99, from a probe's end to its ingest, read from the
  collector's `vantage_ingest_delay_seconds` histogram (the bucket bound
  that holds the 99th percentile of batches), and the agents' flush
  interval as its baseline.

    python -m bench.load
    VANTAGE_LOAD_SECONDS=300 VANTAGE_LOAD_AGENTS=5 python -m bench.load

Not part of `make test` or `make bench` (it takes about three minutes).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench._common import (
    TOKEN,
    Procs,
    bench_procs,
    cpu_seconds,
    main_for,
    proc_status_bytes,
    start_nginx,
    wait_until,
)
from bench._figures import Row
from tests.support.net import free_port, http_get
from tests.support.procs import Proc, agent_argv, collector_argv

NAME = "load"
AGENTS = int(os.environ.get("VANTAGE_LOAD_AGENTS", "10"))
CHECKS = 1_000
INTERVAL = 10.0
SECONDS = max(120.0, float(os.environ.get("VANTAGE_LOAD_SECONDS", "120")))
FAILING = 0.02
FLUSH = 0.5
"""The agents' default flush interval: the floor of the end-to-end delay."""


def write_config(path: Path, url: str) -> Path:
    """CHECKS http checks every agent's region runs; 2% fetch a missing page."""
    regions = ", ".join(f"r{i}" for i in range(AGENTS))
    every = round(1 / FAILING)
    lines = [
        f"defaults: {{interval: {INTERVAL:.0f}s, timeout: 5s, regions: [{regions}]}}",
        "checks:",
        *(
            f"  - {{name: c{i:04d}, type: http, url: '{url}/{'missing' if i % every == 0 else ''}',"
            " slo: {error_ratio: 0.5}}"
            for i in range(CHECKS)
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def metric(port: int, name: str) -> float:
    """The sum of every series of `name` on a /metrics page."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=60)
    if status != 200:
        raise OSError(f"/metrics on {port}: {status}")
    return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith(name))


def delay_p99(port: int) -> float:
    """The upper bound of the histogram bucket holding the 99th percentile."""
    _, body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=60)
    buckets = []
    for line in body.splitlines():
        if line.startswith("vantage_ingest_delay_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float(bound), float(line.split()[-1])))
    total = buckets[-1][1] if buckets else 0.0
    return next((b for b, count in buckets if count >= 0.99 * total), float("inf"))


@dataclass
class Fleet:
    """The processes of one run."""

    collector: Proc
    http_port: int
    agents: list[tuple[Proc, int]]

    def spooled(self) -> float:
        """Results waiting in every agent's spool."""
        return sum(metric(port, "vantage_agent_spool_results") for _, port in self.agents)

    def agent_rss(self) -> list[int]:
        """Each agent's RSS in bytes."""
        return [proc_status_bytes(proc.pid, "VmRSS") for proc, _ in self.agents]


def start(procs: Procs, config: Path) -> tuple[Fleet, float, int]:
    """Collector (measured idle first), then the agents; returns the fleet
    and the collector's idle CPU share and RSS."""
    grpc_port, http_port = free_port(), free_port()
    argv = collector_argv(config, grpc_port, http_port, procs.tmp / "collector-state")
    collector = procs.start(
        "collector", [*argv, "--log-level", "warning"], {"VANTAGE_AGENT_TOKENS": TOKEN}
    )
    ready = f"http://127.0.0.1:{http_port}/readyz"
    wait_until(lambda: collector.alive() and http_get(ready)[0] == 200, 60, "collector /readyz")
    before, began = cpu_seconds(collector.pid), time.monotonic()
    time.sleep(10.0)  # the idle baseline: its clocks tick, nothing arrives
    idle_cpu = (cpu_seconds(collector.pid) - before) / (time.monotonic() - began)
    idle_rss = proc_status_bytes(collector.pid, "VmRSS")
    agents = []
    for i in range(AGENTS):
        port = free_port()
        agent = [*agent_argv(grpc_port, f"r{i}", f"load-{i}", port), "--log-level", "warning"]
        agent += ["--state-dir", str(procs.tmp / f"agent-{i}")]
        agents.append((procs.start(f"agent-{i}", agent, {"VANTAGE_TOKEN": TOKEN}), port))
    return Fleet(collector, http_port, agents), idle_cpu, idle_rss


def measure(fleet: Fleet) -> dict[str, float]:
    """Wait for every agent to report, let one interval settle, then measure SECONDS."""
    offered = AGENTS * CHECKS / INTERVAL
    wait_until(
        lambda: metric(fleet.http_port, 'vantage_ingest_results_total{status="ok"}') > offered * 2,
        120,
        "every agent reporting",
    )
    time.sleep(INTERVAL)
    ok = 'vantage_ingest_results_total{status="ok"}'
    spool_start, results = fleet.spooled(), metric(fleet.http_port, ok)
    cpu, began = cpu_seconds(fleet.collector.pid), time.monotonic()
    rss_peak = 0
    while time.monotonic() - began < SECONDS:
        time.sleep(5.0)
        fleet.collector.alive()
        rss_peak = max(rss_peak, proc_status_bytes(fleet.collector.pid, "VmRSS"))
    elapsed = time.monotonic() - began
    agent_rss = fleet.agent_rss()
    return {
        "offered": offered,
        "rate": (metric(fleet.http_port, ok) - results) / elapsed,
        "cpu": (cpu_seconds(fleet.collector.pid) - cpu) / elapsed,
        "rss": rss_peak,
        "agent_rss_mean": sum(agent_rss) / len(agent_rss),
        "agent_rss_max": max(agent_rss),
        "spool_start": spool_start,
        "spool_end": fleet.spooled(),
        "p99": delay_p99(fleet.http_port),
        "elapsed": elapsed,
    }


def rows(f: dict[str, float], idle_cpu: float, idle_rss: int) -> list[Row]:
    """The figures, each with its baseline."""
    mib = 2**20
    return [
        Row("ingest rate", f"{f['rate']:,.0f} results/s", f"offered {f['offered']:,.0f}/s"),
        Row("collector CPU", f"{f['cpu'] * 100:.1f}% of a core", f"idle {idle_cpu * 100:.1f}%"),
        Row("collector RSS (peak)", f"{f['rss'] / mib:.0f} MiB", f"idle {idle_rss / mib:.0f} MiB"),
        Row(
            "agent RSS",
            f"mean {f['agent_rss_mean'] / mib:.0f} MiB, max {f['agent_rss_max'] / mib:.0f} MiB",
            f"{CHECKS:,} checks each",
        ),
        Row(
            "spool backlog",
            f"{f['spool_end']:,.0f} results at the end",
            f"{f['spool_start']:,.0f} at the start",
        ),
        Row("end-to-end delay p99", f"<= {f['p99']:g} s", f"agent flush every {FLUSH:g} s"),
    ]


def run() -> list[Row]:
    """Start nginx, the collector and the agents; measure; return the rows."""
    with bench_procs(NAME) as procs:
        port = free_port()
        start_nginx(procs, port)
        config = write_config(procs.tmp / "checks.yaml", f"http://127.0.0.1:{port}")
        fleet, idle_cpu, idle_rss = start(procs, config)
        figures = measure(fleet)
    load = os.getloadavg()[1]
    print(
        f"{AGENTS} agents x {CHECKS:,} checks at {INTERVAL:.0f}s for {figures['elapsed']:.0f}s "
        f"on {os.cpu_count()} cores shared by {AGENTS + 2} processes "
        f"(machine load average {load:.1f} over 5 min: other work competes)"
    )
    return rows(figures, idle_cpu, idle_rss)


if __name__ == "__main__":
    main_for(NAME, run)
    sys.exit(0)
