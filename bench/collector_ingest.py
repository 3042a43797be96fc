"""Results per second into a real collector over real gRPC.

A collector process runs with 1,000 checks in 3 regions. A sender process
(`_ingest_sender`) opens one bidi stream per region, as agents do, and
sends realistic http results in batches of 500 with at most 16 batches
unacked per stream. The collector deduplicates, updates statistics and
windows, and counts metrics on ingest; its own CPU is read from /proc. The
baseline, in the same run, sends one result per message. At the end
/metrics must count exactly what was sent.

    python -m bench.collector_ingest
"""

from __future__ import annotations

from bench._common import (
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
RESULTS = {500: 90_000, 1: 6_000}
"""Results per run, by batch size; batch 1 is the baseline (and slow)."""
TARGET_PER_CPU = 100_000


def _measure(procs: Procs, collector_pid: int, grpc_port: int) -> dict[int, Side]:
    args = [f"127.0.0.1:{grpc_port}", TOKEN, str(CHECKS), ",".join(REGIONS)]
    sender = procs.worker("sender", "bench._ingest_sender", args)
    sender.next_message()
    runs: dict[int, list[Run]] = {batch: [] for batch in RESULTS}
    for rep in range(REPS):
        for batch, total in RESULTS.items():
            sender.request(
                {"op": "prepare", "batch": batch, "total": total, "tag": f"{rep}-{batch}"}
            )
            cpu, reply = measured(collector_pid, lambda: sender.request({"op": "go"}))
            runs[batch].append(Run(reply["ops"], reply["wall"], cpu))
    return {batch: Side(tuple(r)) for batch, r in runs.items()}


def _metric_sums(http_port: int) -> dict[str, float]:
    """Results counted by the ingest counter and by the per-check statistics."""
    status, body = http_get(f"http://127.0.0.1:{http_port}/metrics", timeout=30)
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


def _rate_row(batched: Side, single: Side) -> Row:
    ratio = batched.per_cpu / single.per_cpu
    value = (
        f"{batched.per_cpu:,.0f} results/CPU-s ({batched.rate:,.0f}/s wall, "
        f"{batched.cpu_per_1k * 1000:.1f} µs/result)"
    )
    baseline = f"1/msg: {single.per_cpu:,.0f}/CPU-s ({single.rate:,.0f}/s)"
    target = f">= {TARGET_PER_CPU // 1000}k/CPU-s"
    ok = batched.per_cpu >= TARGET_PER_CPU
    return Row(NAME, "ingest, batches of 500", value, baseline, ratio, target, ok)


def run() -> list[Row]:
    """Measure both batch sizes, then check the collector's counts."""
    print(f"== {NAME}: results into a real collector over gRPC ({CHECKS} checks x 3 regions)")
    with bench_procs(NAME) as procs:
        config = write_http_checks(
            procs.tmp / "checks.yaml", CHECKS, "http://127.0.0.1:8080/healthz", REGIONS
        )
        collector, grpc_port, http_port = start_collector(procs, config)
        sides = _measure(procs, collector.pid, grpc_port)
        named = {f"batch {b} ({RESULTS[b]:,}/run)": side for b, side in sides.items()}
        print_sides("collector CPU only; sender in its own process", "results", named, micro=True)
        row = _rate_row(sides[500], sides[1])
        print(f"    ratio batch 500 / 1 per message (results per CPU-s): {row.ratio:.1f}x")
        sent = sum(run.ops for side in sides.values() for run in side.runs)
        return [row, _check_counts(http_port, sent)]


def main() -> None:
    """Run this benchmark alone."""
    main_for(NAME, run)


if __name__ == "__main__":
    main()
