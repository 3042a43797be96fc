"""`/metrics` for the per-series families: rendered incrementally, cached
per series, never long on the event loop.

A family is one small entry (`Family`): a name, a type, a help text and a
function that yields its lines for one series. Each series (and each
check's `all` pseudo-series) caches its rendered text per family; ingest
clears it, and so does time when a window's figures change
(`Series.expires`), so a scrape renders only the series that changed and
copies the others' bytes. Rendering and writing yield to the event loop
every `CHUNK` series, so ingest and `/healthz` go on during a scrape.

The text is the Prometheus text format 0.0.4, each family's lines together
under one `# HELP` and `# TYPE`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from array import array
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from collector.stats.series import ALL, CheckSeries, Key, Render, Series, Stats
from collector.stats.window import Figures
from common.exposition import escape_label_value, format_value

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Content-Type of the answer."""

CHUNK = 500
"""Series rendered, or written, between two yields to the event loop: a few
milliseconds of work."""

Line = tuple[str, str, float]
"""(name suffix, extra labels as `,k="v"`, value) of one sample line."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class Family(Generic[_T]):
    """One metric family, rendered per series from `_T` (a `Series`, or
    the window figures of a series or of a check over all regions)."""

    name: str
    kind: str
    """`gauge`, `counter` or `histogram`."""
    help: str
    lines: Callable[[_T, float], Sequence[Line]]
    """The lines of one series at `now`; none when it has no value."""
    detailed: bool = False
    """Exported only with detailed metrics on (costly at 50k checks)."""
    volatile: bool = False
    """Changes with time alone: rendered at every scrape, never cached."""

    def header(self) -> bytes:
        """The `# HELP` and `# TYPE` lines."""
        doc = self.help.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {self.name} {doc}\n# TYPE {self.name} {self.kind}\n".encode()

    def render(self, source: _T, labels: str, now: float) -> bytes:
        """This family's lines for one series whose labels are `labels`."""
        lines = self.lines(source, now)
        if not lines:
            return b""
        name = self.name
        return "".join(
            [f"{name}{suffix}{{{labels}{extra}}} {_value(v)}\n" for suffix, extra, v in lines]
        ).encode()


def _value(value: float) -> str:
    """`format_value`, with its common case inline: below 1e6, Go and
    Python write a float alike."""
    return repr(value) if 0.0 <= value < 1e6 else format_value(value)


SeriesFamily = Family[Series]
WindowFamily = Family[dict[str, Figures]]


class Exposition:
    """Renders `stats` with the given families; see the module docstring."""

    def __init__(
        self,
        stats: Stats,
        series_families: Sequence[SeriesFamily],
        window_families: Sequence[WindowFamily],
        *,
        detailed: bool = False,
        labels: Callable[[str, str], str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stats = stats
        self.labels = labels or default_labels
        """(check, region) -> the labels every line of that series starts with."""
        self.cached = [
            f for f in series_families if not f.volatile and (detailed or not f.detailed)
        ]
        self.volatile = [f for f in series_families if f.volatile and (detailed or not f.detailed)]
        self.windows = [f for f in window_families if detailed or not f.detailed]
        self.clock = clock
        self._lock = asyncio.Lock()

    def _series(self) -> tuple[list[tuple[Key, Series]], list[tuple[str, CheckSeries]]]:
        checks = list(self.stats.checks.items())
        return [((c, r), s) for c, found in checks for r, s in found.regions.items()], checks

    async def keep_fresh(self, every: float = 5.0, most: int = 20_000) -> None:
        """Render what changed in the background, at most `most` series
        every `every` seconds, so a scrape mostly copies cached text. At
        2,500 results/s that keeps up with every change for a few percent
        of a core; under a flood the cap bounds the cost. Never returns."""
        while True:
            await asyncio.sleep(every)
            async with self._lock:
                await self._refresh(*self._series(), self.clock(), most)

    async def render(self) -> AsyncIterator[bytes]:
        """The per-series families, in chunks; one render at a time."""
        async with self._lock:
            now = self.clock()
            regional, checks = self._series()
            await self._refresh(regional, checks, now)
            for index, family in enumerate(self.cached):
                yield family.header()
                async for chunk in self._texts(regional, index, now):
                    yield chunk
            for family in self.volatile:
                yield family.header()
                for start in range(0, len(regional), CHUNK):
                    yield b"".join(
                        family.render(s, self.labels(c, r), now)
                        for (c, r), s in regional[start : start + CHUNK]
                    )
                    await asyncio.sleep(0)
            offset = len(self.cached)
            for index, window_family in enumerate(self.windows):
                yield window_family.header()
                async for chunk in self._texts(regional, offset + index, now):
                    yield chunk
                async for chunk in self._texts([((c, ALL), s) for c, s in checks], index, now):
                    yield chunk

    async def _refresh(
        self,
        regional: list[tuple[Key, Series]],
        checks: list[tuple[str, CheckSeries]],
        now: float,
        most: int | None = None,
    ) -> None:
        """Render every series whose text is gone or stale (at most `most`),
        yielding often."""
        done = 0
        for (check, region), series in [*regional, *(((c, ALL), s) for c, s in checks)]:
            if series.text is None or now >= series.until:
                self._render(series, check, region, now)
                done += 1
                if done == most:
                    return
                if done % CHUNK == 0:
                    await asyncio.sleep(0)

    def _render(self, series: Render, check: str, region: str, now: float) -> bytes:
        labels = self.labels(check, region)
        assert isinstance(series, Series | CheckSeries)
        figures = series.figures(now)
        texts = [f.render(figures, labels, now) for f in self.windows]
        if isinstance(series, Series):
            texts = [f.render(series, labels, now) for f in self.cached] + texts
        cuts = array("I", [0])
        for part in texts:
            cuts.append(cuts[-1] + len(part))
        series.text = text = b"".join(texts)
        series.cuts = cuts
        series.until = series.expires(now)
        return text

    async def _texts(
        self, items: Sequence[tuple[tuple[str, str], Render]], index: int, now: float
    ) -> AsyncIterator[bytes]:
        for start in range(0, len(items), CHUNK):
            parts = []
            for (check, region), series in items[start : start + CHUNK]:
                # Ingest may have cleared it since the refresh: render it now.
                text = series.text
                if text is None:
                    text = self._render(series, check, region, now)
                cuts = series.cuts
                parts.append(text[cuts[index] : cuts[index + 1]])
            yield b"".join(parts)
            await asyncio.sleep(0)


def default_labels(check: str, region: str) -> str:
    """`check` and `region`, the labels every per-series line starts with
    (check names need no escaping: the config allows letters, digits, `.`,
    `_` and `-` only)."""
    return f'check="{check}",region="{_escaped(region)}"'


_escaped = functools.lru_cache(maxsize=256)(escape_label_value)
"""Regions are few: escape each once."""
