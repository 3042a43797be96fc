"""HTTP probes per CPU-second: our probe engine vs blackbox_exporter.

Both sides probe the same local nginx (one worker, a small static page),
at the same concurrency, with a fresh connection per probe. Ours runs the
agent's `ProbeRunner` (the http probe, the probe counter and batch
serialization) in its own uvloop process (`_probe_worker`), and its CPU is
that process's; the target is about this engine. A second worker of ours
also writes the agent's canonical JSON log line per probe, which
blackbox_exporter does not, and is shown beside it without a target.
blackbox_exporter is driven through `/probe?module=http_2xx` by a
keep-alive client in another process, and its CPU is the exporter's own.
nginx serves both and is not counted.

    python -m bench.agent_http
"""

from __future__ import annotations

from bench._common import (
    LOGGED,
    bench_procs,
    compare_probes,
    main_for,
    probe_sides,
    start_nginx,
)
from bench._figures import Row, print_sides, versus_row
from tests.support.binaries import find_binary
from tests.support.net import free_port

NAME = "agent_http"
PROBES = {1: 2500, 64: 5000}
"""Probes per run, by concurrency."""
TARGET_RATIO = 2.0
MODULE = ("http_2xx", {"prober": "http", "timeout": "5s", "http": {"preferred_ip_protocol": "ip4"}})


def run() -> list[Row]:
    """Measure both sides at each concurrency; one summary row each."""
    print(f"== {NAME}: HTTP probes, vantage vs blackbox_exporter, same nginx")
    if find_binary("nginx") is None:
        print("  skipped: install nginx")
        return [Row.skipped(NAME, "HTTP probes/CPU-s", "install nginx")]
    rows = []
    with bench_procs(NAME) as procs:
        port = free_port()
        start_nginx(procs, http_port=port)
        target = f"http://127.0.0.1:{port}/"
        check = {"name": "bench-http", "url": target, "timeout": "5s"}
        sides = probe_sides(procs, "http", check, MODULE, target, log_line=True)
        for concurrency, n in PROBES.items():
            figures = compare_probes(sides, n, concurrency)
            print_sides(f"concurrency {concurrency}, {n} probes per run", "probes", figures)
            figure = f"HTTP probes/CPU-s, c={concurrency}"
            rows.append(versus_row(NAME, figure, figures, TARGET_RATIO))
            logged = f"{figure}, with the log line"
            rows.append(versus_row(NAME, logged, figures, None, ours_side=LOGGED))
    return rows


def main() -> None:
    """Run this benchmark alone."""
    main_for(NAME, run)


if __name__ == "__main__":
    main()
