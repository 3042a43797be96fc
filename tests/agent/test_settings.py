"""The agent's command line: one line for each bad flag, file or address,
never a traceback; the defaults it derives; --version and --help."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest
from aiohttp import web

from agent import settings
from common import __version__
from tests.support.net import free_port
from tests.support.procs import ROOT, child_env

BASE = ["--region", "eu-west", "--token", "t0ken"]


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        settings.load(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line, no usage dump, no traceback
    return err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--collector", "http://host:9790", *BASE], "not a URL: write 'host:9790'"),
        (["--collector", "a:1,https://b:2/", *BASE], "not a URL: write 'b:2'"),
        (["--collector", "host:99999", *BASE], "bad address 'host:99999'"),
        (
            ["--collector", "h:1", "--region", "r", "--token-file", "/nonexistent/token"],
            "--token-file /nonexistent/token: No such file or directory",
        ),
        (["--collector", "h:1", "--region", "r"], "missing --token (or VANTAGE_TOKEN)"),
        (["--collector", "h:1", *BASE, "--state-dir", "/proc/nope"], "--state-dir /proc/nope"),
        (["--collector", "h:1", *BASE, "--spool-max-age", "soon"], "--spool-max-age: bad dur"),
        (["--collector", "h:1", *BASE, "--flush-interval", "5"], "--flush-interval must be"),
        (["--collector", "h:1", *BASE, "--dns-server", "dns.example"], "--dns-server: bad server"),
    ],
    ids=[
        "url",
        "url-in-list",
        "port",
        "token-file",
        "no-token",
        "state-dir",
        "age",
        "flush",
        "dns",
    ],
)
def test_bad_flags_end_in_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VANTAGE_TOKEN", raising=False)
    assert says in error_of(argv, capsys)


def test_an_unreadable_token_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text("")
    argv = ["--collector", "h:1", "--region", "r", "--token-file", str(token)]
    assert "the file is empty" in error_of(argv, capsys)


def test_defaults_agent_id_per_host_and_region_and_state_dir_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = settings.load(["--collector", "h1, h2:7", *BASE])
    assert s.agent_id == f"{socket.gethostname()}-eu-west"
    assert s.collectors == ("h1:9790", "h2:7")
    assert s.state_dir == Path(".state", "agent", s.agent_id)
    assert (s.spool_max_bytes, s.spool_max_age, s.fsync_interval) == (256 << 20, 86400.0, 1.0)
    assert s.dns_server is None  # the system resolver
    assert settings.load(["--collector", "h1", *BASE, "--dns-server", "::1"]).dns_server == (
        "::1",
        53,
    )


def test_version_and_help_show_defaults_but_never_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VANTAGE_TOKEN", "s3cret-from-env")
    with pytest.raises(SystemExit):
        settings.load(["--version"])
    assert capsys.readouterr().out.strip() == f"vantage-agent {__version__}"
    with pytest.raises(SystemExit):
        settings.load(["--help"])
    out = capsys.readouterr().out
    assert "(default: 24h)" in out and "(default: 268435456)" in out
    assert "s3cret-from-env" not in out


async def test_the_collectors_http_port_is_named_not_retried(tmp_path: Path) -> None:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    argv = [
        *("-m", "agent", "--collector", f"127.0.0.1:{port}", *BASE),
        *("--http-listen", f"127.0.0.1:{free_port()}", "--state-dir", str(tmp_path)),
    ]
    env = child_env({"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "proto")])})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        await runner.cleanup()
    assert proc.returncode == 2
    assert "answers HTTP/1, not gRPC: is that the collector's HTTP port?" in err.decode()
    assert "Traceback" not in err.decode()
