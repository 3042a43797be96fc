"""The collector's config watcher on a real file: a change applies once the
file stopped changing, a bad or emptied file never replaces the config in
force, and nothing in a file can stop the watcher. Polls are driven by hand
(`_poll`), so no test waits on a clock."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from collector import config_source
from collector.alerting.config import AlertingConfig
from collector.config_source import ConfigSource
from common.auth import token_sha256
from common.config import Config

HEAD = "defaults: {interval: 10s, timeout: 5s, regions: [eu-west]}\n"
ONE = HEAD + "checks:\n  - {name: a, type: http, url: 'http://127.0.0.1:9/'}\n"
TWO = ONE + "  - {name: b, type: http, url: 'http://127.0.0.1:9/'}\n"


class Watched:
    """A ConfigSource on a temp file, recording what it applies and refuses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.applied: list[list[str]] = []
        self.outcomes: list[bool] = []
        self.mtime = 1_000_000_000
        path.write_text(ONE)
        self.source = ConfigSource(path, self.changed, self.outcomes.append)

    def changed(self, config: Config, _alerting: AlertingConfig) -> None:
        self.applied.append([c.name for c in config.checks])

    def write(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.path.write_bytes(data)
        self.mtime += 1  # a distinct mtime per write, however fast the test runs
        os.utime(self.path, (self.mtime, self.mtime))

    async def poll(self, times: int = 1) -> None:
        for _ in range(times):
            await self.source._poll()


@pytest.fixture
def watched(tmp_path: Path) -> Watched:
    return Watched(tmp_path / "checks.yaml")


async def test_a_change_applies_only_once_the_file_stopped_changing(watched: Watched) -> None:
    watched.write(HEAD + "checks:\n")  # an editor's first half
    await watched.poll()
    watched.write(TWO)  # ... and the rest, before the next poll
    await watched.poll()
    assert watched.applied == []
    await watched.poll()
    assert watched.applied == [["a", "b"]]
    await watched.poll(2)
    assert watched.applied == [["a", "b"]]  # applied once


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "every check would be removed"),
        (HEAD, "every check would be removed"),
        (b"\x00\xff\xfe garbage \x81", "not UTF-8"),
        ("checks: [\n", "not valid YAML"),
    ],
    ids=["empty", "no-checks-key", "binary-garbage", "broken-yaml"],
)
async def test_a_bad_or_emptied_file_keeps_the_config_in_force(
    watched: Watched, text: str | bytes, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    watched.write(text)
    await watched.poll(2)
    assert watched.applied == []
    assert watched.outcomes == [False]
    assert [c.name for c in watched.source.config.checks] == ["a"]
    watched.write(TWO)  # the watcher is alive: a good file applies
    await watched.poll(2)
    assert watched.applied == [["a", "b"]]


async def test_a_reload_reports_check_and_alerting_mistakes_together(watched: Watched) -> None:
    bad = (
        TWO.replace("type: http, url", "type: http, timout: 5s, url", 1)
        + "alerting:\n  route: {receivers: [hook]}\n"
        + "  receivers:\n    - {name: hook, type: webhok, url: 'http://127.0.0.1:9/'}\n"
    )
    watched.write(bad)
    with capture_logs() as events:
        await watched.poll(2)
    [failed] = [e for e in events if e["event"] == "config.reload_failed"]
    assert failed["errors"] == [
        "checks.yaml:3: check 'a': unknown key 'timout' (did you mean 'timeout'?)",
        "checks.yaml:8: receiver 'hook': field 'type': 'webhok' is not one of webhook, slack, "
        "email, pagerduty, alertmanager, sms (did you mean 'webhook'?)",
    ]
    assert watched.applied == []


async def test_checks_written_empty_on_purpose_remove_every_check(watched: Watched) -> None:
    watched.write(HEAD + "checks: []\n")
    await watched.poll(2)
    assert watched.applied == [[]]


async def test_a_change_of_agent_tokens_alone_is_applied(watched: Watched) -> None:
    digest = token_sha256("fake-token")
    watched.write(ONE + f"agents:\n  - {{name: eu-1, region: eu-west, token_sha256: '{digest}'}}\n")
    await watched.poll(2)
    assert watched.applied == [["a"]]
    assert [a.name for a in watched.source.config.agents] == ["eu-1"]


async def test_the_watcher_outlives_a_failing_subscriber(watched: Watched) -> None:
    calls: list[int] = []

    def broken(_config: Config, _alerting: AlertingConfig) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug downstream")

    watched.source.on_change = broken
    task = asyncio.create_task(watched.source.watch(every=0.001))
    try:
        watched.write(TWO)
        async with asyncio.timeout(5):
            while not calls:
                await asyncio.sleep(0.001)
        watched.write(ONE)
        async with asyncio.timeout(5):
            while len(calls) < 2:
                await asyncio.sleep(0.001)
        assert not task.done()
        assert False in watched.outcomes
    finally:
        task.cancel()


def test_a_config_crosses_from_the_loader_process_in_chunks_and_arrives_whole(
    tmp_path: Path,
) -> None:
    # One pickle of 10,000 checks held the GIL (so the event loop) for
    # 0.4-0.6 s on every reload; chunks of _CHUNK let the loop run between.
    n = 2 * config_source._CHUNK + 3
    path = tmp_path / "checks.yaml"
    lines = [f"  - {{name: c{i}, type: http, url: 'http://127.0.0.1:9/{i}'}}" for i in range(n)]
    path.write_text(HEAD + "checks:\n" + "\n".join(lines) + "\n")
    direct, _ = config_source.load_collector_config(path)
    pickled = config_source._load_pickled(path)
    assert pickled[1] == 3  # three chunks of checks
    crossed, _ = config_source.unpickle(pickled)
    assert crossed == direct
    # What the loader made one object stays one across chunks (one memo),
    # and equal floats, which pickle writes by value, are one again.
    first, last = crossed.checks[0], crossed.checks[-1]
    assert first.regions is last.regions and first.slo is last.slo
    assert first.timeout is last.timeout and first.interval is last.interval
    assert crossed.lines == direct.lines  # not compared by ==, needed for FILE:LINE
    assert crossed.check_lines == direct.check_lines
    assert crossed.check_lines["c2"] == 5
    # Paths inside checks are not kept once loaded (their errors are
    # reported while loading): the nearest kept ancestor answers.
    assert crossed.line_of("checks.2.url") == crossed.line_of("checks") == 2


class HeldLoads:
    """Wraps a source's loader: counts the loads, and holds each one in its
    thread, once it has read the file, until released, so a test decides
    what overlaps."""

    def __init__(self, source: ConfigSource) -> None:
        self.real, self.count = source._load, 0
        self.release = threading.Event()
        self.started = threading.Event()
        source._load = self

    def __call__(self, path: Path) -> tuple[Config, AlertingConfig]:
        self.count += 1
        loaded = self.real(path)  # the file as it is now
        self.started.set()
        assert self.release.wait(10), "the test never released the load"
        return loaded


async def _reloading(watched: Watched) -> tuple[HeldLoads, asyncio.Task[bool]]:
    """A SIGHUP reload of TWO, held after it read the file."""
    watched.write(TWO)
    loads = HeldLoads(watched.source)
    first = asyncio.create_task(watched.source.reload_async("SIGHUP"))
    assert await asyncio.to_thread(loads.started.wait, 10)
    return loads, first


async def test_a_reload_asked_for_during_one_that_read_the_same_file_is_coalesced(
    watched: Watched,
) -> None:
    loads, first = await _reloading(watched)
    with capture_logs() as events:
        second = asyncio.create_task(watched.source.reload_async("SIGHUP"))
        await asyncio.sleep(0)
        loads.release.set()
        assert await first and await second
    assert loads.count == 1  # one parse, not two side by side
    assert watched.applied == [["a", "b"]]
    assert [e["reason"] for e in events if e["event"] == "config.reload_coalesced"] == ["SIGHUP"]
    await watched.poll(3)  # the watcher sees the write the reload already read
    assert loads.count == 1
    assert watched.applied == [["a", "b"]]


async def test_a_reload_asked_for_after_a_later_write_runs_after_the_one_in_progress(
    watched: Watched,
) -> None:
    loads, first = await _reloading(watched)
    watched.write(ONE)  # changed while the first reload reads the older file
    second = asyncio.create_task(watched.source.reload_async("SIGHUP"))
    await asyncio.sleep(0)
    assert loads.count == 1  # waiting, not parsing alongside
    loads.release.set()
    assert await first and await second
    assert loads.count == 2
    assert watched.applied == [["a", "b"], ["a"]]
