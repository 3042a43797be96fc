"""`vantage-collector` and `vantage`: --version, defaults in --help, and a
bad flag, file or directory ends in one line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common import __version__
from tests.support.procs import ROOT, child_env


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, check=False,
        env=child_env({"VANTAGE_AGENT_TOKENS": "fake-token", **(env or {})}), timeout=30,
    )  # fmt: skip


@pytest.mark.parametrize("module", ["collector", "cli"])
def test_version(module: str) -> None:
    done = run("-m", module, "--version")
    assert done.returncode == 0
    assert done.stdout.strip().endswith(__version__)


def test_help_shows_defaults_and_variables() -> None:
    out = run("-m", "collector", "--help", env={"COLUMNS": "300"}).stdout
    assert "(default: 127.0.0.1:9791)" in out
    assert "VANTAGE_COLLECTOR_HTTP_LISTEN" in out


def _read_only_dir(tmp: Path) -> str:
    target = tmp / "ro"
    target.mkdir()
    target.chmod(0o500)
    return str(target / "state")


BAD = [
    ("missing-config", ["--config", "/nonexistent/checks.yaml"], "--config /nonexistent/checks.yaml: cannot read this file"),
    ("bad-listen", ["--http-listen", "localhost"], "--http-listen: bad address 'localhost': want host:port"),
    ("unknown-flag", ["--shards", "2"], "unrecognized arguments: --shards 2"),
    ("tls-half", ["--tls-cert", "/x.pem"], "--tls-cert and --tls-key go together"),
    ("state-file", ["--state-dir", "/dev/null/state"], "--state-dir /dev/null/state: cannot write here"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_flag_is_one_line(argv: list[str], message: str) -> None:
    done = run("-m", "collector", *argv)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("vantage-collector: error: ")
    assert message in lines[0]


def test_an_invalid_config_names_each_problem_on_its_own_line(tmp_path: Path) -> None:
    config = tmp_path / "checks.yaml"
    config.write_text(
        "checks:\n  - {name: a, type: http, url: 'http://x y/'}\n  - {name: b, type: htp}\n"
    )
    done = run("-m", "collector", "--config", str(config), "--state-dir", str(tmp_path / "s"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("vantage-collector: error: checks.yaml:2: check 'a': field 'url'")
    assert lines[1].startswith("vantage-collector: error: checks.yaml:3: check 'b': field 'type'")
