"""Issue 12's collector targets, measured on a real collector process.

50,000 http checks x 3 regions at a 60 s interval (2,500 results/s), fed
by `_ingest_sender` in the production pattern (every (check, region) once
per interval, batches of 8, 2% failures) over real gRPC:

1. ready after start (baseline: a 1,000-check collector, same run);
2. an hour of data: 60 intervals of probe time sent as fast as the
   collector acks (faster than real time; windows count a result when it
   ended, so they hold one hour either way); /healthz is polled meanwhile;
3. RSS after that hour and per series (baseline: RSS when ready);
4. CPU at 2,500 results/s paced in real time (baseline: the same collector
   idle, its clocks still ticking);
5. a full /metrics scrape after the hour, then an unchanged one (baseline),
   then one during paced ingest, with /healthz polled;
6. a config reload (SIGHUP after a real change), /healthz polled.

2% of results fail at random; the checks' error budget is raised
(`STEADY_SLO`) so that this steady state is not also a wide outage of
ErrorRatioHigh alerts on every check.

    python -m bench.scale collector
    VANTAGE_SCALE_CHECKS=5000 VANTAGE_SCALE_MINUTES=10 python -m bench.scale collector

The environment variables make a quicker, smaller run; the printed figures
say which size they are for.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import (
    STEADY_SLO,
    TOKEN,
    UNLIMITED,
    BenchError,
    Procs,
    Worker,
    bench_procs,
    cpu_seconds,
    measured,
    proc_status_bytes,
    start_collector,
    write_http_checks,
)
from bench._figures import Row

NAME = "scale_collector"
CHECKS = int(os.environ.get("VANTAGE_SCALE_CHECKS", "50000"))
MINUTES = int(os.environ.get("VANTAGE_SCALE_MINUTES", "60"))
REGIONS = ("eu-west", "us-east", "ap-south")
RATE = CHECKS * len(REGIONS) / 60.0
"""Results per second at a 60 s interval."""
STEADY = 30.0
"""Seconds of paced ingest for the CPU figure."""
URL = "http://127.0.0.1:8080/healthz"


@dataclass
class Poller:
    """Polls /healthz every 20 ms from a process of its own (so neither the
    bench's scraping nor its GIL delays a poll); latencies by phase, a
    phase being the wall-clock spans marked with `during`."""

    port: int
    out: Path
    spans: list[tuple[str, float, float]] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the polling process."""
        code = (
            "import sys; "
            "from bench.scale_collector import poll; "
            "poll(int(sys.argv[1]), sys.argv[2])"
        )
        argv = [sys.executable, "-c", code, str(self.port), str(self.out)]
        self._proc = subprocess.Popen(argv)

    @contextmanager
    def during(self, phase: str) -> Iterator[None]:
        """Attribute the polls that start meanwhile to `phase`."""
        started = time.time()
        try:
            yield
        finally:
            self.spans.append((phase, started, time.time()))

    def worst(self, phase: str) -> float:
        """The slowest answer in `phase` (inf when never polled)."""
        return max(self.latencies(phase), default=float("inf"))

    def p99(self, phase: str) -> float:
        """The 99th percentile answer in `phase` (inf when never polled)."""
        latencies = sorted(self.latencies(phase))
        return latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("inf")

    def latencies(self, phase: str) -> list[float]:
        """Every answer's seconds in `phase`."""
        spans = [(a, b) for name, a, b in self.spans if name == phase]
        polls = self.out.read_text().split() if self.out.exists() else []
        pairs = zip(map(float, polls[::2]), map(float, polls[1::2]), strict=True)
        return [lat for at, lat in pairs if any(a <= at <= b for a, b in spans)]

    def stop(self) -> None:
        """End the polling process."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)


POLL_MOST = 3 * 3600.0
"""Seconds a poller runs at most: bounded even if the bench dies unseen."""


def poll(port: int, out: str) -> None:
    """The poller's process: `start latency` per line, every 20 ms, until
    stopped, its parent is gone or `POLL_MOST` seconds passed; a failed
    request counts as its 10 s timeout."""
    parent, deadline = os.getppid(), time.monotonic() + POLL_MOST
    with open(out, "a", buffering=1) as file:
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(0.02)
            at, started = time.time(), time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                latency = time.perf_counter() - started
            except OSError:
                latency = 10.0
            file.write(f"{at:.3f} {latency:.4f}\n")


def scrape(port: int, gzip: bool = False) -> tuple[float, int, int]:
    """Seconds, bytes sent and lines of one GET /metrics, read to the end
    (with `gzip`, as Prometheus asks: bytes are the compressed ones)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"} if gzip else {})
    response = conn.getresponse()
    unpack = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    size = lines = 0
    while chunk := response.read(1 << 20):
        size += len(chunk)
        lines += (unpack.decompress(chunk) if unpack else chunk).count(b"\n")
    conn.close()
    if response.status != 200:
        raise BenchError(f"/metrics answered {response.status}")
    return time.perf_counter() - started, size, lines


def ready_seconds(procs: Procs, config: Path, timeout: float) -> tuple[float, Any, int, int]:
    """Start a collector; seconds until /readyz, and (proc, grpc, http)."""
    started = time.perf_counter()
    flags = (*UNLIMITED, "--log-level", "info")  # the reload is seen in the log
    proc, grpc_port, http_port = start_collector(procs, config, flags, timeout=timeout)
    return time.perf_counter() - started, proc, grpc_port, http_port


def _sender(procs: Procs, grpc_port: int) -> Worker:
    args = [f"127.0.0.1:{grpc_port}", TOKEN, str(CHECKS), ",".join(REGIONS)]
    sender = procs.worker("sender", "bench._ingest_sender", args)
    sender.next_message(timeout=300)
    return sender


def _send(sender: Worker, pid: int, tag: str, plan: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    sender.request({"op": "prepare", "tag": tag, **plan})
    cpu, reply = measured(pid, lambda: sender.request({"op": "go"}, 7200))
    if "error" in reply:
        raise BenchError(f"sender: {reply['error']}")
    return cpu, reply


def _paced(sender: Worker, seconds: float, tag: str) -> dict[str, Any]:
    minutes = max(1, round(seconds / 60))  # whole intervals, paced to RATE
    plan = {"pattern": "production", "minutes": minutes, "start": time.time(), "rate": RATE}
    sender.request({"op": "prepare", "tag": tag, **plan})
    return sender.request({"op": "go"}, 7200)


@dataclass
class Figures:
    """Everything measured, for the rows."""

    values: dict[str, float] = field(default_factory=dict)

    def __setitem__(self, key: str, value: float) -> None:
        self.values[key] = value
        print(f"  {key}: {value:,.3f}", flush=True)

    def __getitem__(self, key: str) -> float:
        return self.values[key]


def measure(procs: Procs) -> tuple[Figures, Poller]:
    """Run every phase on one 50k collector (see the module docstring)."""
    f = Figures()
    small = write_http_checks(procs.tmp / "small.yaml", 1000, URL, REGIONS, STEADY_SLO)
    f["ready_1k_s"], small_proc, *_ = ready_seconds(procs, small, 60)
    small_proc.stop()
    config = write_http_checks(procs.tmp / "checks.yaml", CHECKS, URL, REGIONS, STEADY_SLO)
    f["ready_s"], proc, grpc_port, http_port = ready_seconds(procs, config, 300)
    pid = proc.pid
    f["rss_ready_mb"] = proc_status_bytes(pid, "VmRSS") / 1e6
    poller = Poller(http_port, procs.tmp / "healthz.txt")
    poller.start()
    try:
        idle_before = cpu_seconds(pid)
        with poller.during("idle"):
            time.sleep(10)
        f["idle_cores"] = (cpu_seconds(pid) - idle_before) / 10
        sender = _sender(procs, grpc_port)
        with poller.during("flood"):
            cpu, ops, wall = _flood(sender, pid)
        f["flood_results"] = ops
        f["flood_us_per_result"] = cpu / ops * 1e6
        f["flood_results_per_s"] = ops / wall
        f["rss_hour_mb"] = proc_status_bytes(pid, "VmRSS") / 1e6
        with poller.during("scrape"):
            f["scrape_full_s"], size, lines = scrape(http_port)
            f["scrape_mb"] = size / 1e6
            f["scrape_lines_per_series"] = lines / (CHECKS * len(REGIONS))
            f["scrape_unchanged_s"], *_ = scrape(http_port)
            f["scrape_gzip_s"], size, _ = scrape(http_port, gzip=True)
            f["scrape_gzip_mb"] = size / 1e6
        _steady(f, sender, pid, http_port, poller)
        _reload(f, proc, config, http_port, poller)
        f["rss_end_mb"] = proc_status_bytes(pid, "VmRSS") / 1e6
    finally:
        poller.stop()
    return f, poller


TAIL = 5
"""Minutes of the hour sent last, ending now: the scrapes that follow the
flood must find the 5-minute windows full, as in production (sent in one
go, the hour ended minutes before the scrape at 50,000 checks, and the
scrape left out every 5m line)."""


def _flood(sender: Worker, pid: int) -> tuple[float, int, float]:
    """An hour of data as fast as the collector takes it: CPU-seconds of
    the collector, results, wall seconds."""
    cpu = wall = 0.0
    ops = 0
    tail = min(TAIL, MINUTES)
    # (tag, minutes sent, how long before now they start)
    for tag, minutes, back in (("hour", MINUTES - tail, MINUTES), ("hour-tail", tail, tail)):
        if minutes:
            start = time.time() - back * 60
            plan = {"pattern": "production", "start": start, "batch": 8, "minutes": minutes}
            used, reply = _send(sender, pid, tag, plan)
            cpu, ops, wall = cpu + used, ops + int(reply["ops"]), wall + float(reply["wall"])
    return cpu, ops, wall


def _steady(f: Figures, sender: Worker, pid: int, http_port: int, poller: Poller) -> None:
    before, started = cpu_seconds(pid), time.perf_counter()
    reply = _paced(sender, STEADY, "steady")
    wall = time.perf_counter() - started
    f["steady_results_per_s"] = reply["ops"] / wall
    f["steady_cores"] = (cpu_seconds(pid) - before) / wall
    scrapes: list[float] = []
    thread = threading.Thread(target=lambda: scrapes.append(_scrape_later(http_port, poller)))
    thread.start()
    _paced(sender, 60, "steady-scrape")
    thread.join()
    f["scrape_during_ingest_s"] = scrapes[0]


def _scrape_later(port: int, poller: Poller) -> float:
    time.sleep(20)
    with poller.during("scrape"):
        return scrape(port)[0]


def _reload(f: Figures, proc: Any, config: Path, http_port: int, poller: Poller) -> None:
    text = config.read_text().replace("timeout: 5s", "timeout: 6s", 1)
    config.write_text(text)
    with poller.during("reload"):
        started = time.perf_counter()
        os.kill(proc.pid, signal.SIGHUP)
        _wait_log(proc, "config.reloaded", 120)
        f["reload_s"] = time.perf_counter() - started
        time.sleep(1)  # what follows the reload (alerting, agents) runs too


def _wait_log(proc: Any, event: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while event not in proc.output():
        if time.monotonic() > deadline:
            raise BenchError(f"no {event} in {timeout:.0f}s:\n{proc.tail()}")
        time.sleep(0.05)


def rows(f: Figures, poller: Poller) -> list[Row]:
    """The targets of issue 12, each with its baseline from the same run."""
    series = CHECKS * len(REGIONS)
    per_series = (f["rss_hour_mb"] - f["rss_ready_mb"]) * 1e6 / series
    total_per_series = f["rss_hour_mb"] * 1e6 / series
    size = f"{CHECKS:,} checks x 3"
    idle = poller.worst("idle")

    def health(phase: str) -> Row:
        worst, p99 = poller.worst(phase) * 1000, poller.p99(phase) * 1000
        return Row(NAME, f"/healthz during {phase}", f"{worst:.0f} ms (worst)",
                   f"p99 {p99:.0f} ms; idle worst {idle * 1000:.0f} ms", None, "<= 100 ms",
                   worst <= 100)  # fmt: skip

    return [
        Row(NAME, f"ready after start, {size}", f"{f['ready_s']:.1f} s",
            f"1,000 checks: {f['ready_1k_s']:.1f} s", f["ready_s"] / f["ready_1k_s"], "<= 15 s",
            f["ready_s"] <= 15),
        Row(NAME, f"CPU at {RATE:,.0f} results/s", f"{f['steady_cores']:.2f} cores",
            f"idle: {f['idle_cores']:.2f} cores", None, "<= 0.5 core", f["steady_cores"] <= 0.5),
        Row(NAME, f"RSS after {MINUTES} min of data", f"{f['rss_hour_mb']:,.0f} MB",
            f"at ready: {f['rss_ready_mb']:,.0f} MB", None, "<= 1,000 MB",
            f["rss_hour_mb"] <= 1000),
        Row(NAME, "RSS per (check, region) series", f"{total_per_series / 1000:.1f} KB",
            f"data alone: {per_series / 1000:.1f} KB", None, "<= 6 KB",
            total_per_series <= 6000),
        Row(NAME, f"/metrics full scrape ({f['scrape_mb']:,.0f} MB, "
            f"{f['scrape_lines_per_series']:.1f} lines per series)",
            f"{f['scrape_full_s']:.1f} s", f"unchanged: {f['scrape_unchanged_s']:.1f} s",
            None, "<= 5 s", f["scrape_full_s"] <= 5),
        Row(NAME, f"/metrics unchanged, gzip as Prometheus asks ({f['scrape_gzip_mb']:,.1f} MB)",
            f"{f['scrape_gzip_s']:.1f} s", f"plain: {f['scrape_unchanged_s']:.1f} s", None, "",
            None),
        Row(NAME, "/metrics scrape during ingest", f"{f['scrape_during_ingest_s']:.1f} s", "",
            None, "<= 5 s", f["scrape_during_ingest_s"] <= 5),
        health("scrape"), health("reload"), health("flood"),
        Row(NAME, "ingest flood, production pattern", f"{f['flood_us_per_result']:.1f} µs/result",
            f"{f['flood_results_per_s']:,.0f} results/s wall", None, "", None),
        Row(NAME, "config reload", f"{f['reload_s']:.1f} s", "", None, "", None),
    ]  # fmt: skip


def run() -> list[Row]:
    """The collector's scale figures."""
    print(f"== {NAME}: {CHECKS:,} checks x 3 regions, {MINUTES} min of data, {RATE:,.0f}/s")
    with bench_procs(NAME) as procs:
        figures, poller = measure(procs)
        return rows(figures, poller)
