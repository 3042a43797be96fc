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


class ProcessExited(RuntimeError):
    """A process a test or benchmark needs has exited; the message shows
    the end of its output."""


@dataclass
class Proc:
    """A child process whose output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def output(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, chars: int = 3000) -> str:
        """The end of the output, for error messages."""
        return self.output()[-chars:]

    def alive(self) -> bool:
        """True while running; ProcessExited with the output's tail once not."""
        if self.popen.poll() is not None:
            raise ProcessExited(f"{self.name} exited {self.popen.returncode}:\n{self.tail()}")
        return True

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


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: ours, unbuffered, plus `extra`."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}


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
        full_env = child_env(env)
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
            lambda: proc.alive() and http_get(f"http://127.0.0.1:{http_port}/readyz")[0] == 200,
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
        argv = [
            *agent_argv(grpc_port, region, agent_id, port),
            *("--flush-interval", "0.2", "--state-dir", str(self.tmp / f"{agent_id}-state")),
        ]
        return self.start(agent_id, argv, {"VANTAGE_TOKEN": token, **(env or {})}), port

    def stop_all(self) -> None:
        """Stop every process, newest first."""
        for proc in reversed(self.started):
            proc.stop()
        self.started.clear()
