"""`/metrics` for the per-series families: rendered incrementally, cached
per series, never long on the event loop.

A family is one small entry (`Family`): a name, a type, a help text and a
function that yields its lines for one series. Each series (and each
check's `all` pseudo-series) caches its rendered text per family; ingest
clears it, and so does time when a window's figures change
(`Series.expires`), so a scrape renders only the series that changed and
copies the others' bytes. A scrape takes every series' cached bytes (and
renders the stale ones) `CHUNK` checks at a time, then writes each family
as slices of those bytes joined `COPY` series at a time: no work per line,
no body held whole, and a yield to the event loop between chunks, so
ingest and `/healthz` go on during a scrape.

The text is the Prometheus text format 0.0.4, each family's lines together
under one `# HELP` and `# TYPE`.
"""

from __future__ import annotations

import asyncio
import functools
import struct
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Generic, TypeVar

from collector.stats.series import (
    ALL,
    SLO_WINDOW,
    WINDOWS,
    CheckSeries,
    Render,
    Series,
    Spans,
    Stats,
)
from collector.stats.window import Figures
from common.exposition import escape_label_value, format_value

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Content-Type of the answer."""

CHUNK = 25
"""Checks (each with its regions) walked, and rendered when stale, between
two yields to the event loop: a few milliseconds of work at most."""

SCAN = 10_000
"""Checks looked at for stale text between two yields (~2 ms)."""

COPY = 2_000
"""Cached series texts joined into one written chunk: ~120 KB by default,
~3 MB for the detailed histogram."""

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
        return header(self.name, self.kind, self.help)

    def render(self, source: _T, labels: str, now: float) -> str:
        """This family's lines for one series whose labels are `labels`."""
        lines = self.lines(source, now)
        name = self.name
        if len(lines) == 1:  # most families: no list to join
            suffix, extra, v = lines[0]
            return f"{name}{suffix}{{{labels}{extra}}} {_value(v)}\n"
        return "".join(
            [f"{name}{suffix}{{{labels}{extra}}} {_value(v)}\n" for suffix, extra, v in lines]
        )


def header(name: str, kind: str, doc: str) -> bytes:
    """The `# HELP` and `# TYPE` lines of a family."""
    doc = doc.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n".encode()


def _value(value: float) -> str:
    """`format_value`, with its common case inline: below 1e6, Go and
    Python write a float alike."""
    return repr(value) if 0.0 <= value < 1e6 else format_value(value)


SeriesFamily = Family[Series]
WindowFamily = Family[dict[str, Figures]]
Named = tuple[str, str, Render]
"""(check, region or `ALL`, its series)."""
_OFFSET = struct.Struct("<I")
"""One family offset in a cached text's head (`Render.text`)."""
_SPAN = struct.Struct("<2I")
"""A family's start and end offsets, read from a cached text's head."""


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
        chosen = [f for f in series_families if detailed or not f.detailed]
        self.cached = [f for f in chosen if not f.volatile]
        self.volatile = [f for f in chosen if f.volatile]
        self.windows = [f for f in window_families if detailed or not f.detailed]
        self.spans: Spans = WINDOWS if detailed else {SLO_WINDOW: WINDOWS[SLO_WINDOW]}
        """The windows exported: the SLO's alone unless detailed."""
        self.static: Sequence[bytes] = ()
        """Chunks written after the series, changed only by a new config
        (`vantage_check_info`)."""
        self.renders = 0
        """Series rendered so far (tests count them)."""
        self.clock = clock
        self._lock = asyncio.Lock()

    async def _walk(self, names: list[str] | None = None) -> AsyncIterator[list[Named]]:
        """Every series (a check's regions, then its `ALL`) of every check,
        or of `names`, `CHUNK` checks at a time, yielding to the event loop
        after each chunk. Checks added meanwhile wait for the next walk;
        checks forgotten are skipped."""
        checks = self.stats.checks
        names = list(checks) if names is None else names
        for start in range(0, len(names), CHUNK):
            chunk: list[Named] = []
            for check in names[start : start + CHUNK]:
                found = checks.get(check)
                if found is not None:
                    chunk += [(check, region, s) for region, s in list(found.regions.items())]
                    chunk.append((check, ALL, found))
            yield chunk
            await asyncio.sleep(0)

    async def keep_fresh(self, every: float = 2.0, most: int = 20_000) -> None:
        """Render what changed in the background, at most `most` series
        every `every` seconds, so a scrape mostly copies cached text. At
        50k checks x 3 every 60 s, about 5,000 series change a second (a
        new result, and the oldest leaving the 5-minute window): this keeps
        up with twice that, for ~0.1 core; under a flood the cap bounds the
        cost. Never returns."""
        while True:
            await asyncio.sleep(every)
            async with self._lock:
                await self._refresh(self.clock(), most)

    async def _refresh(self, now: float, most: int) -> None:
        """Render every stale series, at most `most` of them.

        Only checks whose `ALL` is stale are walked: ingest clears a
        region's text and its check's together, and a check's figures
        change by time no later than any of its regions' (its `until` is
        theirs at the most), so a check whose `ALL` is fresh has no stale
        series. Walking every series to find the stale ones cost 0.1 s
        every pass at 50,000 checks x 3, idle or not."""
        done = 0
        stale: list[str] = []
        checks = list(self.stats.checks.items())
        for start in range(0, len(checks), SCAN):  # 50,000 at once held the loop ~25 ms
            if start:
                await asyncio.sleep(0)
            part = checks[start : start + SCAN]
            stale += [n for n, c in part if c.text is None or now >= c.until]
        async for chunk in self._walk(stale):
            for check, region, series in chunk:
                if series.text is None or now >= series.until:
                    self._render(series, check, region, now)
                    done += 1
                    if done == most:
                        return

    async def render(self) -> AsyncIterator[bytes]:
        """The whole exposition, in chunks; one render at a time. The cached
        texts are taken first (rendering the stale ones), then copied family
        by family: the answer is one consistent snapshot, whatever ingest
        clears meanwhile."""
        async with self._lock:
            now = self.clock()
            texts, overall, regional = await self._snapshot(now)
            for index, family in enumerate(self.cached):
                yield family.header()
                async for part in _copies(texts, index):
                    yield part
            async for part in self._volatile(regional, now):
                yield part
            for index, window_family in enumerate(self.windows):
                yield window_family.header()
                async for part in _copies(texts, len(self.cached) + index):
                    yield part
                async for part in _copies(overall, index):
                    yield part
            for part in self.static:
                yield part
                await asyncio.sleep(0)

    async def _snapshot(self, now: float) -> tuple[list[bytes], list[bytes], list[Named]]:
        """The cached text of every regional series and every check's `ALL`
        (rendering the stale ones), and the regional series themselves when
        a volatile family needs them."""
        texts: list[bytes] = []
        overall: list[bytes] = []
        regional: list[Named] = []
        async for chunk in self._walk():
            for check, region, series in chunk:
                text = series.text
                if text is None or now >= series.until:
                    text = self._render(series, check, region, now)
                (overall if region == ALL else texts).append(text)
                if self.volatile and region != ALL:
                    regional.append((check, region, series))
        return texts, overall, regional

    async def _volatile(self, regional: list[Named], now: float) -> AsyncIterator[bytes]:
        """The families that change with time alone, rendered now."""
        for family in self.volatile:
            yield family.header()
            for start in range(0, len(regional), CHUNK):
                yield "".join(
                    family.render(s, self.labels(c, r), now)  # type: ignore[arg-type]
                    for c, r, s in regional[start : start + CHUNK]
                ).encode()
                await asyncio.sleep(0)

    def _render(self, series: Render, check: str, region: str, now: float) -> bytes:
        labels = self.labels(check, region)
        assert isinstance(series, Series | CheckSeries)
        spans = self.spans
        figures = series.figures(now, spans)
        parts = [f.render(figures, labels, now) for f in self.windows]
        if isinstance(series, Series):
            parts = [f.render(series, labels, now) for f in self.cached] + parts
        whole = "".join(parts)
        body = whole.encode()
        # Offsets in characters are offsets in bytes unless a label value is
        # not ASCII (a certificate subject may not be).
        sizes = map(len, parts) if len(body) == len(whole) else (len(p.encode()) for p in parts)
        head = _OFFSET.size * (len(parts) + 1)
        offsets = accumulate(sizes, initial=head)
        series.text = text = b"".join([struct.pack(f"<{len(parts) + 1}I", *offsets), body])
        series.until = series.expires(now, spans)
        self.renders += 1
        return text


async def _copies(texts: list[bytes], index: int) -> AsyncIterator[bytes]:
    """Family `index` of every text, `COPY` series per chunk: bytes
    slicing and one join, no work per line."""
    at = _OFFSET.size * index
    span = _SPAN.unpack_from
    for start in range(0, len(texts), COPY):
        yield b"".join([t[slice(*span(t, at))] for t in texts[start : start + COPY]])
        await asyncio.sleep(0)


def default_labels(check: str, region: str) -> str:
    """`check` and `region`, the labels every per-series line starts with
    (check names need no escaping: the config allows letters, digits, `.`,
    `_` and `-` only)."""
    return f'check="{check}",region="{_escaped(region)}"'


_escaped = functools.lru_cache(maxsize=256)(escape_label_value)
"""Regions are few: escape each once."""
