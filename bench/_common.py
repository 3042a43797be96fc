"""Shared benchmark machinery: real processes on loopback, CPU and memory
read from /proc, and a line protocol to drive worker processes (figures and
tables are in `_figures`).

Every process a benchmark starts lives in a `Procs` and is stopped with
SIGTERM (then SIGKILL) when the benchmark ends, whatever happens. All
traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench._figures import REPS, Row, Run, Side, report
from tests.support.binaries import find_binary
from tests.support.net import free_port, http_get, wait_for
from tests.support.procs import Proc, child_env, collector_argv
from tests.support.procs import Procs as TestProcs

ROOT = Path(__file__).resolve().parent.parent

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark could not produce its figures (a process died, a check
    failed); the message says which and shows the log tail."""


# --- processes -------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the `(comm)` part, which may itself hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def proc_status_bytes(pid: int, key: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"/proc/{pid}/status has no {key}")


def wait_until(
    predicate: Callable[[], object], timeout: float, what: str, every: float = 0.05
) -> None:
    """Poll `predicate` until truthy; BenchError naming `what` on timeout."""
    try:
        wait_for(predicate, timeout, what, every)
    except AssertionError as exc:  # the tests' helper fails with an assertion
        raise BenchError(str(exc)) from None


def tcp_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Worker(Proc):
    """A child that speaks one JSON object per line on stdin/stdout.

    It prints `{"ready": ...}` once set up; then each request line gets one
    reply line. Between request and reply the child does only the measured
    work, so CPU read around `request()` belongs to that work.
    """

    def next_message(self, timeout: float = 60.0) -> dict[str, Any]:
        """The child's next line (the first is its ready message); BenchError
        if it reports an error."""
        message = self._read(timeout)
        if "error" in message:
            raise BenchError(f"{self.name}: {message['error']}")
        return message

    def request(self, payload: dict[str, Any], timeout: float = 150.0) -> dict[str, Any]:
        """Send one request, return the reply; BenchError if it is an error."""
        stdin = self.popen.stdin
        assert stdin is not None
        stdin.write(json.dumps(payload).encode() + b"\n")
        stdin.flush()
        return self.next_message(timeout)

    def _read(self, timeout: float) -> dict[str, Any]:
        stdout = self.popen.stdout
        assert stdout is not None
        # One line is pending at most (strict request/reply), so select on
        # the pipe is not fooled by Python-side buffering.
        import select  # noqa: PLC0415  # only workers need it

        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else b""
        if not line:
            self.alive()
            raise BenchError(f"{self.name}: no answer within {timeout:g}s:\n{self.tail()}")
        message: dict[str, Any] = json.loads(line)
        return message

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Close stdin so the child cleans up and exits; signal it if not."""
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(5)
        return super().stop(sig, timeout)


class Procs(TestProcs):
    """Processes started under one temp dir, all stopped on exit; adds
    line-protocol workers to the tests' process helper."""

    def worker(self, name: str, module: str, args: Sequence[str]) -> Worker:
        """Start `python -m module args` as a line-protocol worker."""
        log = self.tmp / f"{name}.log"
        with log.open("wb") as err:
            popen = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=ROOT,
            )
        worker = Worker(name, popen, log)
        self.started.append(worker)
        return worker


@contextlib.contextmanager
def bench_procs(name: str) -> Iterator[Procs]:
    """A temp dir and the processes started in it, all gone afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"vantage-bench-{name}-") as tmp:
        procs = Procs(Path(tmp))
        try:
            yield procs
        finally:
            procs.stop_all()


# --- real components ---------------------------------------------------------

_PAGE = "<!doctype html><title>bench</title>" + "<p>Vantage benchmark target.</p>" * 16 + "\n"


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate and key, and the CA that signed them (PEM files)."""

    cert: Path
    key: Path
    ca: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A trustme CA and a server certificate for 127.0.0.1 and localhost."""
    import trustme  # noqa: PLC0415  # a dev dependency, only TLS benches need it

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(directory / "server.pem", directory / "server.key", directory / "ca.pem")
    cert.cert_chain_pems[0].write_to_path(str(files.cert))
    for blob in cert.cert_chain_pems[1:]:
        blob.write_to_path(str(files.cert), append=True)
    cert.private_key_pem.write_to_path(str(files.key))
    ca.cert_pem.write_to_path(str(files.ca))
    return files


def _nginx_conf(root: Path, http_port: int | None, tls: tuple[int, TlsFiles] | None) -> str:
    servers = []
    if http_port is not None:
        servers.append(f"server {{ listen 127.0.0.1:{http_port}; root {root}/www; }}")
    if tls is not None:
        port, files = tls
        # No session cache or tickets: every probe pays a full handshake.
        servers.append(
            f"server {{ listen 127.0.0.1:{port} ssl; root {root}/www;"
            f" ssl_certificate {files.cert}; ssl_certificate_key {files.key};"
            " ssl_session_cache off; ssl_session_tickets off; }"
        )
    temps = " ".join(
        f"{kind}_temp_path {root}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx would run its worker as `nobody`, who cannot read a
    # private temp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""daemon off; worker_processes 1; {user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{ access_log off; {temps}
  {chr(10).join(servers)}
}}
"""


def start_nginx(
    procs: Procs, http_port: int | None = None, tls: tuple[int, TlsFiles] | None = None
) -> Proc:
    """nginx in the foreground serving a small page over HTTP and/or TLS."""
    binary = find_binary("nginx")
    if binary is None:
        raise BenchError("nginx is not installed")
    root = procs.tmp / "nginx"
    (root / "www").mkdir(parents=True)
    (root / "www" / "index.html").write_text(_PAGE)
    (root / "nginx.conf").write_text(_nginx_conf(root, http_port, tls))
    argv = [binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")]
    proc = procs.start("nginx", argv)
    ports = [p for p in (http_port, tls[0] if tls else None) if p is not None]
    wait_until(lambda: proc.alive() and all(map(tcp_open, ports)), 10, "nginx to listen")
    return proc


BLACKBOX_PACKAGE = "prometheus-blackbox-exporter"


def start_blackbox(procs: Procs, modules: dict[str, Any]) -> tuple[Proc, int]:
    """blackbox_exporter with `modules`; returns the process and its port."""
    binary = find_binary("prometheus-blackbox-exporter")
    if binary is None:
        raise BenchError(f"{BLACKBOX_PACKAGE} is not installed")
    config = procs.tmp / "blackbox.yml"
    config.write_text(yaml.safe_dump({"modules": modules}))
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    proc = procs.start("blackbox", argv)
    healthy = f"http://127.0.0.1:{port}/-/healthy"
    wait_until(lambda: proc.alive() and http_get(healthy)[0] == 200, 10, "blackbox /-/healthy")
    return proc, port


def blackbox_probe_url(port: int, module: str, target: str) -> str:
    """The `/probe` URL a Prometheus scrape of `target` would request."""
    from urllib.parse import urlencode  # noqa: PLC0415

    return f"http://127.0.0.1:{port}/probe?{urlencode({'module': module, 'target': target})}"


TOKEN = "bench-token-not-a-secret"
"""The agent token every benchmark collector accepts."""


STEADY_SLO = "slo: {error_ratio: 0.25}"
"""For an ingest benchmark's checks: 2% of results fail at random, which
over a 5-minute window of ~15 results would put nearly every check over
the default 1% error budget, a wide outage. The steady-state figures are
measured without one (a wide outage has its own benchmark)."""


def write_http_checks(
    path: Path, count: int, url: str, regions: Sequence[str], extra: str = ""
) -> Path:
    """A checks file of `count` http checks (60s interval, 5s timeout);
    `extra` is added to each check's flow mapping (e.g. `STEADY_SLO`)."""
    more = f", {extra}" if extra else ""
    lines = [
        f"defaults: {{interval: 60s, timeout: 5s, regions: [{', '.join(regions)}]}}",
        "checks:",
        *(f"  - {{name: check-{i:05d}, type: http, url: '{url}'{more}}}" for i in range(count)),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


UNLIMITED = ("--agent-rate", "1e9")
"""Collector flags for a benchmark that floods: no per-agent rate limit."""


def start_collector(
    procs: Procs, config: Path, extra: Sequence[str] = UNLIMITED, timeout: float = 30
) -> tuple[Proc, int, int]:
    """A real collector process; returns (proc, grpc port, http port) once ready."""
    grpc_port, http_port = free_port(), free_port()
    state = procs.tmp / "collector-state"
    argv = [*collector_argv(config, grpc_port, http_port, state), "--log-level", "warning", *extra]
    proc = procs.start("collector", argv, {"VANTAGE_AGENT_TOKENS": TOKEN})
    ready = f"http://127.0.0.1:{http_port}/readyz"
    wait_until(lambda: proc.alive() and http_get(ready)[0] == 200, timeout, "collector /readyz")
    return proc, grpc_port, http_port


# --- measuring -------------------------------------------------------------


def measured(pid: int, work: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """CPU-seconds process `pid` spent while `work()` ran, and its reply."""
    before = cpu_seconds(pid)
    reply = work()
    return cpu_seconds(pid) - before, reply


LOGGED = "vantage + log line"
"""The side of ours that also writes the canonical log line per probe."""

ProbeSide = tuple[Worker, int]
"""A probe worker and the pid whose CPU counts for it: the worker itself
for our probes, blackbox_exporter for its driver."""


def probe_worker(procs: Procs, name: str, args: Sequence[str]) -> Worker:
    """Start a `bench._probe_worker` and wait until it warmed up."""
    worker = procs.worker(name, "bench._probe_worker", args)
    ready = worker.next_message()
    if not ready["warmup_ok"]:
        raise BenchError(f"{name}: every warm-up probe failed: {ready['warmup_failure']}")
    return worker


def compare_probes(sides: dict[str, ProbeSide], n: int, concurrency: int) -> dict[str, Side]:
    """REPS runs of n probes per side, interleaved so noise hits all sides."""
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    for _ in range(REPS):
        for name, (worker, pid) in sides.items():
            request = {"n": n, "concurrency": concurrency}
            cpu, reply = measured(pid, functools.partial(worker.request, request))
            if reply["failed"] > n // 100:
                failed, first = reply["failed"], reply["first_failure"]
                raise BenchError(f"{name}: {failed} of {n} probes failed, first: {first}")
            runs[name].append(Run(reply["ops"], reply["wall"], cpu))
    return {name: Side(tuple(r)) for name, r in runs.items()}


def probe_sides(
    procs: Procs,
    check_type: str,
    check: dict[str, Any],
    module: tuple[str, dict[str, Any]],
    target: str,
    log_line: bool = False,
    agent_path: bool = False,
) -> dict[str, ProbeSide]:
    """Our probe worker for `check`, and blackbox_exporter running `module`
    (name, settings) against `target` with its driver, when installed. With
    `log_line`, a second worker of ours also writes the agent's canonical
    log line per probe (side `LOGGED`); with `agent_path`, that worker runs
    the agent's whole per-probe path instead (log line, durable spool,
    batch encoding and ack: `_probe_worker agent`)."""
    args = ["ours", check_type, json.dumps(check)]
    ours = probe_worker(procs, f"ours-{check_type}", args)
    sides: dict[str, ProbeSide] = {"vantage": (ours, ours.pid)}
    if log_line or agent_path:
        mode = ["agent", *args[1:], str(procs.tmp / "spool")] if agent_path else [*args, "info"]
        logged = probe_worker(procs, f"ours-{check_type}-logged", mode)
        sides[LOGGED] = (logged, logged.pid)
    if find_binary("prometheus-blackbox-exporter") is None:
        print(f"  blackbox_exporter skipped: install {BLACKBOX_PACKAGE}")
        return sides
    exporter, port = start_blackbox(procs, {module[0]: module[1]})
    url = blackbox_probe_url(port, module[0], target)
    driver = probe_worker(procs, f"blackbox-{check_type}", ["blackbox", url])
    sides["blackbox_exporter"] = (driver, exporter.pid)
    return sides


def main_for(name: str, run: Callable[[], list[Row]]) -> None:
    """`python -m bench.<name>`: run one benchmark and print its table."""
    started = time.monotonic()
    try:
        rows = run()
    except BenchError as exc:
        raise SystemExit(f"{name} failed: {exc}") from None
    report(rows)
    print(f"took {time.monotonic() - started:.0f}s")
