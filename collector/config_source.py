"""The collector's config file: loaded at start, reloaded on SIGHUP or when
the file changes. An invalid new file is logged and the old config stays in
force, so a typo never stops monitoring.

The checks are validated by `common.config`, and the `alerting:` section
(`collector.alerting.config`) in the same run by the same machinery, with
`${env:NAME}` resolved from the collector's own environment (in checks,
only the agent resolves them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import multiprocessing
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import structlog

from collector.alerting.config import AlertingConfig, alerting_section
from collector.alerting.validation import warnings
from common.config import Config, ConfigError, load_config
from common.config.sharing import Sharing
from common.runtime import build_to_last, gc_paused

log = structlog.get_logger("collector.config")


def load_collector_config(
    path: Path, env: Mapping[str, str] | None = os.environ
) -> tuple[Config, AlertingConfig]:
    """Checks and routing from one file; ConfigError names file and field.

    `env` resolves `${env:NAME}` in receivers; None leaves them unresolved
    (`vantage validate` on a laptop that lacks the collector's secrets).
    """
    config = load_config(path, {"alerting": alerting_section(env)})
    alerting = config.sections["alerting"]
    assert isinstance(alerting, AlertingConfig)  # the loader raised on any problem
    config = replace(config, sections={})  # held once, as `alerting`
    return replace(config, warnings=config.warnings + tuple(warnings(config, alerting))), alerting


def _load_paused(path: Path) -> tuple[Config, AlertingConfig]:
    with gc_paused():
        return load_collector_config(path)


_CHUNK = 250
"""Checks (or line-map entries) per pickle: one `pickle.loads` holds the GIL
until it returns, ~10 ms for 250 checks on a loaded machine."""

_CHILD_NICENESS = 10
"""How much lower the parsing child's CPU priority is than the collector's."""

Pickled = tuple[bytes, int, int]
"""A loaded config as the child hands it back: one stream of pickles from
one `Pickler` (the config without its checks and line map, then the checks
in chunks, then the line map in chunks), and the number of each kind of
chunk."""


def _load_pickled(path: Path) -> Pickled:
    config, alerting = _load_paused(path)
    stream = io.BytesIO()
    # One Pickler for every chunk: its memo spans them, so a value the
    # loader shared between checks (`common.config.sharing`) is written
    # once and arrives as one object, not one per chunk.
    pickler = pickle.Pickler(stream, pickle.HIGHEST_PROTOCOL)
    pickler.dump((replace(config, checks=(), lines={}), alerting))
    checks = _dump_chunks(pickler, config.checks)
    lines = _dump_chunks(pickler, tuple(config.lines.items()))
    return stream.getvalue(), checks, lines


def _dump_chunks(pickler: pickle.Pickler, items: tuple[object, ...]) -> int:
    starts = range(0, len(items), _CHUNK)
    for start in starts:
        pickler.dump(items[start : start + _CHUNK])
    return len(starts)


def unpickle(pickled: Pickled) -> tuple[Config, AlertingConfig]:
    """The config `_load_pickled` handed back, read chunk by chunk with one
    Unpickler (whose memo spans the chunks, as the Pickler's did): a
    10,000-check config as one pickle held the GIL, and so the event loop,
    for 0.4-0.6 s; in chunks the loop runs between them. What the child
    shared arrives shared but floats (`Sharing.floats`): sharing every
    value again here took 1.5 s of a 50,000-check load."""
    data, checks, lines = pickled
    unpickler = pickle.Unpickler(io.BytesIO(data))  # noqa: S301  # our own child's output
    config, alerting = unpickler.load()
    loaded = Sharing().floats(item for _ in range(checks) for item in unpickler.load())
    line_map = dict(item for _ in range(lines) for item in unpickler.load())
    return replace(config, checks=loaded, lines=line_map), alerting


def load_isolated(path: Path) -> tuple[Config, AlertingConfig]:
    """`load_collector_config` in a child process (spawned: the gRPC threads
    make fork unsafe), which returns the validated config pickled in chunks
    (`unpickle`). Parsing 50,000 checks peaks at ~550 MB of YAML nodes and
    line maps, and a process keeps such a peak as RSS; the collector keeps
    only the ~150 MB of models."""
    spawn = multiprocessing.get_context("spawn")
    # The child runs niced: on a small machine it otherwise takes a core the
    # event loop needs, and /healthz waited 300-500 ms in a 50,000-check
    # reload. Raising one's own niceness needs no privilege.
    with concurrent.futures.ProcessPoolExecutor(
        1, mp_context=spawn, initializer=os.nice, initargs=(_CHILD_NICENESS,)
    ) as pool:
        return unpickle(pool.submit(_load_pickled, path).result())


class ConfigSource:
    """Holds the config in force and tells subscribers when it changes.

    The watcher polls the file's metadata and applies a change only once the
    file has stopped changing for one poll (an editor that truncates, then
    writes, is never seen half-way). The file is parsed in a thread, so a
    reload of a large file never stalls ingest or the HTTP server. Nothing
    that a file contains can stop the watcher: a bad file is logged and
    counted (`outcome(False)`) and the config in force stays.
    """

    def __init__(
        self,
        path: Path,
        on_change: Callable[[Config, AlertingConfig], None],
        outcome: Callable[[bool], None] = lambda ok: None,
        select: Callable[[Config], Config] = lambda config: config,
        *,
        isolated: bool = False,
    ) -> None:
        self.path = path
        self._load = load_isolated if isolated else _load_paused
        """How a file is read: `isolated` in a child process (the collector)."""
        self.on_change = on_change
        self.outcome = outcome
        self.select = select
        """Keeps the checks this collector owns (`collector.shard`)."""
        self._applied = self._seen = self._stat()
        config, self.alerting = self._load(path)
        self.config = select(config)
        self._reloading = asyncio.Lock()
        """One reload at a time: a SIGHUP sent after writing the file and the
        watcher seeing that write both asked for one, and two 50,000-check
        parses side by side starved the event loop of the machine's cores."""
        _warn(self.config)

    def _stat(self) -> tuple[int, ...]:
        """What changes when the file does (a ConfigMap swap changes the inode)."""
        try:
            st = self.path.stat()
        except OSError:
            return ()
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def reload(self, reason: str) -> bool:
        """Load the file again, here; keep the old config when the new one is bad."""
        try:
            loaded = load_collector_config(self.path)
        except ConfigError as exc:
            return self._failed(reason, exc.problems)
        return self._apply(reason, *loaded)

    async def reload_async(self, reason: str) -> bool:
        """`reload`, with the file read and validated off the event loop
        (and its objects kept out of the cycle collector, `build_to_last`).

        Reloads run one at a time. One asked for while another runs waits
        for it, then is skipped when that one read the file as it was when
        this one was asked for (same inode, size and times): it would read
        the same bytes. The watcher skips what any reload already read."""
        asked = self._stat()
        waited = self._reloading.locked()
        async with self._reloading:
            if waited and asked == self._applied:
                log.info("config.reload_coalesced", reason=reason)
                return True
            self._applied = self._stat()
            try:
                loaded = await asyncio.to_thread(build_to_last, lambda: self._load(self.path))
            except ConfigError as exc:
                return self._failed(reason, exc.problems)
            return self._apply(reason, *loaded)

    def _failed(self, reason: str, problems: list[str]) -> bool:
        log.error(
            "config.reload_failed", reason=reason, errors=problems, kept_version=self.config.version
        )
        self.outcome(False)
        return False

    def _apply(self, reason: str, config: Config, alerting: AlertingConfig) -> bool:
        old = self.config
        if old.checks and not config.checks and not config.empty_on_purpose:
            return self._failed(
                reason,
                [
                    f"{self.path.name}: the new file has no checks, so every check would be "
                    "removed: refused (write `checks: []` to remove them all on purpose)"
                ],
            )
        self.outcome(True)
        config = self.select(config)
        if (config.version, config.agents) == (old.version, old.agents):
            log.info("config.unchanged", reason=reason, version=config.version)
            return True
        self.config, self.alerting = config, alerting
        _warn(config)
        log.info(
            "config.reloaded", reason=reason, version=config.version, checks=len(config.checks)
        )
        self.on_change(config, alerting)
        return True

    async def watch(self, every: float = 1.0) -> None:
        """Poll the file; works with editors and k8s ConfigMap swaps. Never ends
        but by cancellation."""
        while True:
            await asyncio.sleep(every)
            try:
                await self._poll()
            except Exception as exc:  # noqa: BLE001  # the watcher must outlive any bug
                log.error("config.watch_failed", error=repr(exc))
                self.outcome(False)

    async def _poll(self) -> None:
        current = self._stat()
        settled = current == self._seen
        self._seen = current
        if settled and current not in (self._applied, ()):
            await self.reload_async("file changed")


def _warn(config: Config) -> None:
    for warning in config.warnings:
        log.warning("config.warning", warning=warning)
