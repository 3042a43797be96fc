"""Issue 12's agent targets, measured on a real agent process.

1. Schedule: 10,000 http checks at a 10 s interval (1,000 probes/s) against
   a local nginx. A collector double (`tests/support/collector_double`, real gRPC, acks
   at once) keeps each result's start time; a run is on time when it
   starts within 100 ms of its slot (the scheduler's stable phase in the
   interval). After one interval of warm-up, two intervals are measured:
   the share of runs on time (a shed run counts as not on time), the
   agent's CPU in cores, its RSS, runs it shed (`runs_skipped`) and
   failures (nginx is healthy: every failure is a false one). Baseline:
   the same figures for 1,000 checks, same run. The agent logs its
   canonical line per probe, as in production.
2. Memory: RSS at 1,000 checks (target <= 80 MB, nothing dropped to lower
   it) and the cost of each extra check, (RSS at 10k - RSS at 1k) / 9,000
   (target <= 3 KB).
3. Probe engine vs blackbox_exporter per CPU-second at c=1 and c=64,
   counting the agent's per-probe path (`_probe_worker agent`: runner, log
   line, durable spool, batch encoding and ack; target >= 2.5x), and below
   it, in the same runs, the engine alone (no log line, no spool) and two
   floors: the client alone (a bare GET through the agent's session) and a
   minimal uvloop socket client. Their differences say where the agent
   path's CPU goes, layer by layer.

    python -m bench.scale agent
    VANTAGE_SCALE_AGENT_CHECKS=5000 python -m bench.scale agent
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from bench._common import (
    LOGGED,
    TOKEN,
    BenchError,
    Procs,
    bench_procs,
    compare_probes,
    cpu_seconds,
    probe_sides,
    probe_worker,
    proc_status_bytes,
    start_nginx,
    wait_until,
)
from bench._figures import Row, Side, print_sides, versus_row
from common.config.loader import parse_config
from common.wire import check_to_proto
from tests.support.binaries import find_binary
from tests.support.collector_double import CollectorDouble
from tests.support.net import free_port
from tests.support.procs import agent_argv
from vantage.v1 import vantage_pb2 as pb

NAME = "scale_agent"
CHECKS = int(os.environ.get("VANTAGE_SCALE_AGENT_CHECKS", "10000"))
BASE_CHECKS = 1000
INTERVAL = 10.0
MEASURED = 2
"""Intervals measured after one of warm-up."""
ON_TIME = 0.1
MB = 1e6
PROBES = {1: 2000, 64: 4000}
MODULE = ("http_2xx", {"prober": "http", "timeout": "5s", "http": {"preferred_ip_protocol": "ip4"}})


def _slot_offset(check: str, started: float) -> float:
    """Seconds from a run's slot to its start (negative when early)."""
    from agent.scheduler import phase  # noqa: PLC0415  # the agent's own rule

    return (started - phase(check, INTERVAL) + INTERVAL / 2) % INTERVAL - INTERVAL / 2


def config(count: int, url: str) -> pb.Config:
    """`count` http checks at INTERVAL against `url`, for region bench."""
    lines = [
        "defaults: {interval: 10s, timeout: 5s, regions: [bench]}",
        "checks:",
        *(f"  - {{name: check-{i:05d}, type: http, url: '{url}'}}" for i in range(count)),
    ]
    checks = parse_config("\n".join(lines) + "\n").checks
    return pb.Config(version=f"bench-{count}", checks=[check_to_proto(c) for c in checks])


@dataclass
class Schedule:
    """What one agent did over the measured intervals."""

    checks: int
    runs: int
    on_time: float
    p99_late_ms: float
    cores: float
    rss_mb: float
    failures: int
    skipped: int


def run_schedule(procs: Procs, url: str, count: int) -> Schedule:
    """One agent with `count` checks against a double; measured as above."""
    double = CollectorDouble(config(count, url))
    try:
        http_port = free_port()
        argv = [
            *agent_argv(double.port, "bench", f"bench-{count}", http_port),
            *("--token", TOKEN, "--state-dir", str(procs.tmp / f"agent-{count}")),
        ]
        agent = procs.start(f"agent-{count}", argv, {"VANTAGE_LOG_LEVEL": "info"})
        received = double.received
        wait_until(lambda: agent.alive() and received.results, 90, "the first results")
        time.sleep(INTERVAL)  # warm-up: one interval, every check run once
        start, cpu0 = len(received.results), cpu_seconds(agent.pid)
        skipped0 = received.runs_skipped
        time.sleep(MEASURED * INTERVAL)  # the measured window, bounded
        cores = (cpu_seconds(agent.pid) - cpu0) / (MEASURED * INTERVAL)
        rss = proc_status_bytes(agent.pid, "VmRSS") / MB
        rows = received.since(start)
        agent.stop()
    finally:
        double.close()
    offsets = sorted(_slot_offset(c, s) for c, s, _, retry in rows if not retry)
    if not offsets:
        raise BenchError(f"agent with {count} checks sent nothing in the measured window")
    skipped = received.runs_skipped - skipped0
    # A shed run is not on time: it produced no result at all.
    on_time = sum(1 for o in offsets if abs(o) <= ON_TIME) / (len(offsets) + skipped)
    p99 = offsets[min(len(offsets) - 1, int(len(offsets) * 0.99))] * 1000
    failures = sum(1 for _, _, ok, _ in rows if not ok)
    return Schedule(count, len(rows), on_time, p99, cores, rss, failures, skipped)


def _print(s: Schedule) -> None:
    print(
        f"  {s.checks:>6,} checks: {s.runs:,} runs in {MEASURED * INTERVAL:g}s, "
        f"{s.on_time:.2%} within {ON_TIME * 1000:g} ms of their slot (p99 {s.p99_late_ms:.1f} ms), "
        f"{s.cores:.2f} cores, RSS {s.rss_mb:.1f} MB, {s.failures} failures, {s.skipped} shed"
    )


def schedule_rows(base: Schedule, big: Schedule) -> list[Row]:
    """The schedule and memory targets as rows."""
    per_check_kb = (big.rss_mb - base.rss_mb) * MB / (big.checks - base.checks) / 1000
    b = f"{base.checks:,} checks: "
    return [
        Row(NAME, f"runs within 100 ms of slot, {big.checks:,} checks", f"{big.on_time:.2%}",
            f"{b}{base.on_time:.2%}", None, ">= 99%", big.on_time >= 0.99),
        Row(NAME, f"agent CPU, {big.checks:,} checks at 10 s", f"{big.cores:.2f} cores",
            f"{b}{base.cores:.2f}", None, "<= 1 core", big.cores <= 1.0),
        Row(NAME, f"agent RSS, {big.checks:,} checks", f"{big.rss_mb:.1f} MB",
            f"{b}{base.rss_mb:.1f} MB", None, "<= 150 MB", big.rss_mb <= 150),
        Row(NAME, "false failures (healthy nginx)", f"{big.failures}", f"{b}{base.failures}",
            None, "0", big.failures == 0),
        Row(NAME, "runs shed (counted, reported)", f"{big.skipped}", f"{b}{base.skipped}"),
        Row(NAME, "agent RSS, 1,000 checks", f"{base.rss_mb:.1f} MB", "", None, "<= 80 MB",
            base.rss_mb <= 80),
        Row(NAME, "RSS per extra check", f"{per_check_kb:.2f} KB", f"{b}{base.rss_mb:.1f} MB",
            None, "<= 3 KB", per_check_kb <= 3),
    ]  # fmt: skip


FLOORS = {"client alone": "client", "uvloop socket": "socket"}
"""Workers that do less than a probe (`_probe_worker`), by side name."""
LAYERS = (
    ("a fresh connection (uvloop socket)", "uvloop socket", None),
    ("the HTTP client's request and response", "client alone", "uvloop socket"),
    ("the probe (headers, phases, result, judging)", "vantage", "client alone"),
    ("log line, spool, batch, scheduler", LOGGED, "vantage"),
)
"""Where the agent path's CPU per probe goes: each layer is one side less
the side below it, all measured in the same interleaved runs."""


def print_layers(figures: dict[str, Side]) -> None:
    """The agent path's CPU per probe, layer by layer, with blackbox's."""
    total = figures[LOGGED].cpu_per_1k * 1000
    print(f"    where the agent path's {total:.0f} µs of CPU per probe go:")
    for what, side, below in LAYERS:
        cost = figures[side].cpu_per_1k * 1000
        cost -= figures[below].cpu_per_1k * 1000 if below else 0.0
        print(f"      {cost:6.0f} µs  {cost / total:4.0%}  {what}")
    if "blackbox_exporter" in figures:
        theirs = figures["blackbox_exporter"].cpu_per_1k * 1000
        print(f"      blackbox_exporter: {theirs:.0f} µs; 2.5x is {theirs / 2.5:.0f} µs per probe")


def engine_rows(procs: Procs, url: str) -> list[Row]:
    """Probes per CPU-second, the agent's per-probe path vs blackbox /probe,
    with the floors below it (context, no target)."""
    check = {"name": "bench-http", "url": url, "timeout": "5s"}
    sides = probe_sides(procs, "http", check, MODULE, url, agent_path=True)
    for name, mode in FLOORS.items():
        worker = probe_worker(procs, f"floor-{mode}", [mode, url])
        sides[name] = (worker, worker.pid)
    rows = []
    for concurrency, n in PROBES.items():
        figures = compare_probes(sides, n, concurrency)
        print_sides(f"concurrency {concurrency}, {n} probes per run", "probes", figures)
        print_layers(figures)
        figure = f"HTTP probes/CPU-s, agent path, c={concurrency}"
        rows.append(versus_row(NAME, figure, figures, 2.5, ours_side=LOGGED))
        for name in ("vantage", *FLOORS):
            what = "engine alone" if name == "vantage" else f"floor: {name}"
            rows.append(versus_row(NAME, f"{what}, c={concurrency}", figures, None, name))
    return rows


def run() -> list[Row]:
    """Every agent target of issue 12, each with its same-run baseline."""
    print(f"== {NAME}: {CHECKS:,} http checks at 10 s on one agent, vs {BASE_CHECKS:,}")
    if find_binary("nginx") is None:
        return [Row.skipped(NAME, "agent targets", "install nginx")]
    with bench_procs(NAME) as procs:
        port = free_port()
        start_nginx(procs, http_port=port)
        url = f"http://127.0.0.1:{port}/"
        base = run_schedule(procs, url, BASE_CHECKS)
        _print(base)
        big = run_schedule(procs, url, CHECKS)
        _print(big)
        rows = schedule_rows(base, big)
        rows += engine_rows(procs, url)
    return rows
