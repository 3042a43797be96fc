"""Start-up faults: each ends the collector with one line and an exit code,
never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.procs import ROOT, child_env

pytestmark = pytest.mark.integration

CONFIG = "checks:\n  - {name: a, type: http, url: 'http://127.0.0.1:9/', interval: 10s}\n"


def collector(tmp: Path, *extra: str) -> tuple[int, list[str]]:
    (tmp / "checks.yaml").write_text(CONFIG)
    argv = [sys.executable, "-m", "collector", "--config", str(tmp / "checks.yaml")]
    argv += ["--grpc-listen", f"127.0.0.1:{free_port()}", "--http-listen"]
    argv += [f"127.0.0.1:{free_port()}", "--state-dir", str(tmp / "state"), *extra]
    env = child_env({"VANTAGE_AGENT_TOKENS": "fake-token"})
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False
    )
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()


def port_taken(tmp: Path, flag: str) -> tuple[int, list[str]]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        return collector(tmp, flag, f"127.0.0.1:{held.getsockname()[1]}")


def not_a_dir(tmp: Path) -> tuple[int, list[str]]:
    (tmp / "file").write_text("")
    return collector(tmp, "--state-dir", str(tmp / "file" / "state"))


CASES: list[tuple[str, Callable[[Path], tuple[int, list[str]]], int, str]] = [
    ("grpc-port-in-use", lambda t: port_taken(t, "--grpc-listen"), 4, "Address already in use"),
    ("http-port-in-use", lambda t: port_taken(t, "--http-listen"), 4, "address already in use"),
    (
        "unreadable-token-file",
        lambda t: collector(t, "--agent-tokens-file", str(t / "missing")),
        2,
        "No such file or directory",
    ),
    ("unwritable-state-dir", not_a_dir, 2, "--state-dir"),
]


@pytest.mark.parametrize(
    ("start", "code", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_start_up_fault_is_one_line_and_an_exit_code(
    tmp_path: Path, start: Callable[[Path], tuple[int, list[str]]], code: int, says: str
) -> None:
    returncode, lines = start(tmp_path)
    errors = [line for line in lines if '"level":"info"' not in line]
    assert returncode == code, lines
    assert len(errors) == 1 and says in errors[0], lines
    assert "Traceback" not in "\n".join(lines)
