"""Start real collector, agent and target processes for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port, http_get, wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    """A child process whose output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the process and wait; kill it if it hangs."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def collector_argv(config: Path, grpc_port: int, http_port: int, state_dir: Path) -> list[str]:
    """The command line of a loopback collector (shared with bench/)."""
    return [
        sys.executable, "-m", "collector", "--config", str(config),
        "--grpc-listen", f"127.0.0.1:{grpc_port}", "--http-listen", f"127.0.0.1:{http_port}",
        "--state-dir", str(state_dir),
    ]  # fmt: skip


def agent_argv(grpc_port: int, region: str, agent_id: str, http_port: int) -> list[str]:
    """The command line of a loopback agent (shared with bench/); the token
    comes from VANTAGE_TOKEN."""
    return [
        sys.executable, "-m", "agent", "--collector", f"127.0.0.1:{grpc_port}",
        "--region", region, "--agent-id", agent_id, "--http-listen", f"127.0.0.1:{http_port}",
    ]  # fmt: skip


@dataclass
class Procs:
    """Starts processes under `tmp` and stops them all at teardown."""

    tmp: Path
    started: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start `argv` with the repo on PYTHONPATH and output in tmp/name.log."""
        log = self.tmp / f"{name}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv, env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def collector(
        self,
        config: Path,
        tokens: str = "test-token",
        name: str = "collector",
        grpc_port: int | None = None,
        http_port: int | None = None,
        env: dict[str, str] | None = None,
        state: str = "collector-state",
    ) -> tuple[Proc, int, int]:
        """A collector on free ports; returns (proc, grpc_port, http_port) once ready.

        Collectors started with the same `state` share their state directory,
        which is how a test restarts one.
        """
        grpc_port, http_port = grpc_port or free_port(), http_port or free_port()
        argv = collector_argv(config, grpc_port, http_port, self.tmp / state)
        proc = self.start(name, argv, {"VANTAGE_AGENT_TOKENS": tokens, **(env or {})})
        wait_for(
            lambda: _alive(proc) and http_get(f"http://127.0.0.1:{http_port}/readyz")[0] == 200,
            15,
            f"{name} /readyz",
        )
        return proc, grpc_port, http_port

    def agent(
        self,
        grpc_port: int,
        region: str,
        token: str = "test-token",
        agent_id: str | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[Proc, int]:
        """An agent for `region`; returns (proc, its HTTP port)."""
        port = free_port()
        agent_id = agent_id or f"agent-{region}"
        argv = [*agent_argv(grpc_port, region, agent_id, port), "--flush-interval", "0.2"]
        return self.start(agent_id, argv, {"VANTAGE_TOKEN": token, **(env or {})}), port

    def stop_all(self) -> None:
        """Stop every process, newest first."""
        for proc in reversed(self.started):
            proc.stop()


def _alive(proc: Proc) -> bool:
    if proc.popen.poll() is not None:
        raise AssertionError(
            f"{proc.name} exited {proc.popen.returncode}:\n{proc.output()[-3000:]}"
        )
    return True
