"""Faults 7 and 8: the disk under the collector's state dir fills up (a
small tmpfs this test mounts), then frees; and a corrupt state file."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.rig import Rig, metric
from tests.support.net import http_get, wait_for
from tests.support.procs import ROOT

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def small_disk(path: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (root only); skip, or fail under
    CI=true, where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        message = f"cannot mount a tmpfs for the disk-full fault: {done.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Write a file until the file system is full; returns it."""
    filler = path / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler


def readyz(rig: Rig) -> tuple[int, dict[str, object]]:
    status, body = http_get(rig.url("/readyz"))
    return status, json.loads(body)


def test_a_full_disk_never_stops_paging_and_state_is_written_once_freed(rig: Rig) -> None:
    with small_disk(rig.procs.tmp / "collector-state") as state:
        try:
            rig.start_collector()
            rig.start_agents()
            wait_for(rig.reporting, 20, "both regions reporting")
            filler = fill(state)
            rig.target.failing = True
            wait_for(lambda: ("firing", "CheckDown") in rig.pages(), 20, "the page, disk full")
            wait_for(lambda: readyz(rig)[0] == 503, 10, "/readyz red")
            assert "state store" in str(readyz(rig)[1]["problems"])
            assert metric(rig, "vantage_store_errors_total") > 0

            filler.unlink()
            wait_for(lambda: readyz(rig)[0] == 200, 10, "/readyz green once freed")
            incidents = json.loads(http_get(rig.url("/api/v1/incidents?open=1"))[1])
            assert [i["check"] for i in incidents["incidents"]] == ["home"]
            rig.recover_and_resolve()
            rig.assert_counts([("firing", "CheckDown"), ("resolved", "CheckDown")])
        finally:
            rig.procs.stop_all()  # before the unmount


def test_a_corrupt_state_file_stops_the_collector_with_one_line_and_recovers(rig: Rig) -> None:
    first = rig.start_collector()
    rig.start_agents()
    wait_for(rig.reporting, 20, "both regions reporting")
    first.stop()
    state = rig.procs.tmp / "collector-state"
    database = state / "vantage.db"
    with database.open("r+b") as f:
        f.write(b"this is not SQLite" * 8)  # over the header

    argv = [sys.executable, "-m", "collector", "--config", str(rig.config)]
    argv += ["--state-dir", str(state), "--grpc-listen", f"127.0.0.1:{rig.grpc_port}"]
    argv += ["--http-listen", f"127.0.0.1:{rig.http_port}"]
    broken = rig.procs.start("collector-corrupt", argv, {"VANTAGE_AGENT_TOKENS": "fake-x"})
    assert broken.popen.wait(15) == 3
    [line] = broken.output().strip().splitlines()
    assert str(database) in line and "corrupt" in line
    assert f"vantage state reset --backup --state-dir {state}" in line

    reset = [sys.executable, "-m", "cli", "state", "reset", "--backup", "--state-dir", str(state)]
    assert subprocess.run(reset, cwd=ROOT, capture_output=True, check=False).returncode == 0
    rig.start_collector(name="collector-2")
    rig.assert_counts([])
