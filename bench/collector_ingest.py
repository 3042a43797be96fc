"""Results per CPU-second into a real collector over real gRPC, in the
production pattern.

A collector process runs with 1,000 checks in 3 regions. A sender process
(`_ingest_sender`) opens one bidi stream per region, as agents do. The
figure is the **production pattern**: every (check, region) once per
60-second interval, in batches of 8 as an agent sends them, 2% failures;
`MINUTES` intervals of probe time are sent as fast as the collector acks.
The second, labelled line is the old best case (results that end in one
open 10-second slot, batches of 500): it flatters, and is kept only to show
by how much. The collector's own CPU is read from /proc. At the end
/metrics must count exactly what was sent.

    python -m bench.collector_ingest
"""

from __future__ import annotations

import time

from bench._common import (
    STEADY_SLO,
    TOKEN,
    BenchError,
    Procs,
    bench_procs,
    main_for,
    measured,
    start_collector,
    write_http_checks,
)
from bench._figures import REPS, Row, Run, Side, print_sides
from tests.support.net import http_get

NAME = "collector_ingest"
CHECKS = 1000
REGIONS = ("eu-west", "us-east", "ap-south")
MINUTES = 10
"""Intervals of probe time per production run: 30,000 results."""
BEST = 90_000
"""Results per best-case run."""
PRODUCTION = "production, batch 8"
BEST_CASE = "best case, batch 500"
TARGET_US = 200.0
"""µs per result: 2,500 results/s on half a core (issue 12)."""


def _plans(rep: int) -> dict[str, dict[str, object]]:
    # Each rep sends the next MINUTES of probe time, ending before now.
    start = time.time() - (REPS - rep + 1) * MINUTES * 60
    return {
        PRODUCTION: {"pattern": "production", "minutes": MINUTES, "start": start, "batch": 8},
        BEST_CASE: {"pattern": "best", "total": BEST, "batch": 500},
    }


def measure(procs: Procs, collector_pid: int, grpc_port: int, checks: int) -> dict[str, Side]:
    """REPS runs of each pattern, interleaved; CPU of the collector only."""
    args = [f"127.0.0.1:{grpc_port}", TOKEN, str(checks), ",".join(REGIONS)]
    sender = procs.worker("sender", "bench._ingest_sender", args)
    sender.next_message()
    runs: dict[str, list[Run]] = {PRODUCTION: [], BEST_CASE: []}
    for rep in range(REPS):
        for name, plan in _plans(rep).items():
            sender.request({"op": "prepare", "tag": f"{rep}-{len(runs[name])}-{name[:4]}", **plan})
            cpu, reply = measured(collector_pid, lambda: sender.request({"op": "go"}, 600))
            if "error" in reply:
                raise BenchError(f"sender: {reply['error']}")
            runs[name].append(Run(reply["ops"], reply["wall"], cpu))
    return {name: Side(tuple(r)) for name, r in runs.items()}


def _metric_sums(http_port: int) -> dict[str, float]:
    """Results counted by the ingest counter and by the per-check statistics."""
    status, body = http_get(f"http://127.0.0.1:{http_port}/metrics", timeout=60)
    if status != 200:
        raise BenchError(f"collector /metrics answered {status}")
    sums = {"ok": 0.0, "duplicate": 0.0, "stats": 0.0}
    for line in body.splitlines():
        name, _, value = line.rpartition(" ")
        if name == 'vantage_ingest_results_total{status="ok"}':
            sums["ok"] = float(value)
        elif name == 'vantage_ingest_results_total{status="duplicate"}':
            sums["duplicate"] = float(value)
        elif name.startswith("vantage_probe_results_total{"):
            sums["stats"] += float(value)
    return sums


def _check_counts(http_port: int, sent: int) -> Row:
    sums = _metric_sums(http_port)
    ok = sums["ok"] == sent and sums["stats"] == sent and sums["duplicate"] == 0
    value = f"ok={sums['ok']:,.0f} stats={sums['stats']:,.0f} dup={sums['duplicate']:,.0f}"
    print(f"  /metrics after the runs: {value}; sent {sent:,}: {'match' if ok else 'MISMATCH'}")
    return Row(NAME, "/metrics counts = sent", value, f"sent {sent:,}", None, "equal", ok)


def rate_row(production: Side, best: Side, checks: int) -> Row:
    """The production-pattern cost, with the best case as its baseline."""
    us = production.cpu_per_1k * 1000
    value = f"{us:.1f} µs/result ({production.per_cpu:,.0f} results/CPU-s)"
    baseline = f"best case {best.cpu_per_1k * 1000:.1f} µs ({best.per_cpu:,.0f}/CPU-s)"
    ratio = production.per_cpu / best.per_cpu
    what = f"ingest, production pattern, {checks:,} checks x 3"
    return Row(NAME, what, value, baseline, ratio, f"<= {TARGET_US:.0f} µs", us <= TARGET_US)


def run() -> list[Row]:
    """Measure both patterns, then check the collector's counts."""
    print(f"== {NAME}: results into a real collector over gRPC ({CHECKS} checks x 3 regions)")
    with bench_procs(NAME) as procs:
        config = write_http_checks(
            procs.tmp / "checks.yaml", CHECKS, "http://127.0.0.1:8080/healthz", REGIONS, STEADY_SLO
        )
        collector, grpc_port, http_port = start_collector(procs, config)
        sides = measure(procs, collector.pid, grpc_port, CHECKS)
        print_sides("collector CPU only; sender in its own process", "results", sides, micro=True)
        row = rate_row(sides[PRODUCTION], sides[BEST_CASE], CHECKS)
        print(f"    production / best case (results per CPU-s): {row.ratio:.2f}x")
        sent = sum(run.ops for side in sides.values() for run in side.runs)
        return [row, _check_counts(http_port, sent)]


def main() -> None:
    """Run this benchmark alone."""
    main_for(NAME, run)


if __name__ == "__main__":
    main()
