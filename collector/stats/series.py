"""Statistics per (check, region), and per check over all its regions.

Pure: `ingest(samples, now)` updates state; readers take `now` too.

A regional `Series` holds the last result, counts by outcome, a duration
histogram and one `Window` as long as the longest named window; the named
windows (`5m`, `1h`) are spans read from it. A check's figures over all
regions (`ALL`) are read from its regional windows taken together, so no
result is stored twice. Every series carries a render cache for
`/metrics` (`text`), which ingest clears: a scrape renders only what
changed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence

from collector.model import Sample
from collector.stats.window import Figures, Window, figures
from common.reasons import FailureReason

ALL = "all"
"""The pseudo-region that aggregates every region of a check."""

WINDOWS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}
"""Window name -> span in seconds."""

SLO_WINDOW = "5m"
"""The window the SLO alerts judge the p95 over (`collector.alerting.slo`)."""

HISTOGRAM_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of `vantage_probe_duration_seconds` buckets (+Inf implied)."""

NOT_FAILURES = frozenset({FailureReason.TLS_EXPIRING})
"""Reasons that count as a success in windows: the site still works, and
`CertExpiring` is the one notice about it."""

Key = tuple[str, str]
Spans = Mapping[str, float]
"""Window name -> span in seconds: `WINDOWS` or a part of it."""
_NEVER = float("inf")


def counts_as_success(sample: Sample) -> bool:
    """Whether a result counts as a success in a window (the dashboard's
    and the SLO alerts' alike)."""
    return sample.success or sample.reason in NOT_FAILURES


def counted(counts: tuple[tuple[str, int], ...], key: str) -> tuple[tuple[str, int], ...]:
    """`counts` with one more `key` (appended with 1 when new)."""
    for index, (name, count) in enumerate(counts):
        if name == key:
            return (*counts[:index], (key, count + 1), *counts[index + 1 :])
    return (*counts, (key, 1))


class Render:
    """A render cache: `/metrics` text of every family, valid until `until`
    or until ingest clears it (`text = None`). One bytes object: a head of
    little-endian uint32 offsets, one per family and one for the end, then
    the text, family `i` from offset `i` to offset `i + 1`
    (`collector.exposition`). A tuple of a dozen small bytes objects cost
    400 B more per series, and the offsets as an array of their own 100 B."""

    __slots__ = ("text", "until")

    def __init__(self) -> None:
        self.text: bytes | None = None
        self.until = 0.0


class Series(Render):
    """Everything known about one (check, region)."""

    __slots__ = ("duration_sum", "failures", "histogram", "last", "successes", "window")

    def __init__(self, detailed: bool = False) -> None:
        super().__init__()
        self.window = Window(max(WINDOWS.values()))
        self.last: Sample | None = None
        self.successes = 0
        self.failures: tuple[tuple[str, int], ...] = ()
        """(reason, count) of failed results, in order of first failure: a
        tuple, 80 B smaller than a dict in the ~70% of series with a failure
        in their first hour, and changed by only ~2% of results."""
        self.histogram = [0] * (len(HISTOGRAM_BOUNDS) + 1) if detailed else None
        """Results per `HISTOGRAM_BOUNDS` bucket (not cumulative; +Inf last);
        kept only for detailed metrics (`Stats(detailed=True)`)."""
        self.duration_sum = 0.0

    @property
    def outcomes(self) -> dict[str, int]:
        """Results by outcome: `success` or the failure reason."""
        counts = {"success": self.successes} if self.successes else {}
        return counts | dict(self.failures)

    def figures(self, now: float, spans: Spans = WINDOWS) -> dict[str, Figures]:
        """Figures of every named window (or of `spans` only)."""
        return {name: self.window.figures(now, span) for name, span in spans.items()}

    def expires(self, now: float, spans: Spans = WINDOWS) -> float:
        """When the figures of a window of `spans` change by time alone."""
        return min((self.window.expires(now, span) for span in spans.values()), default=_NEVER)


class CheckSeries(Render):
    """A check's regional series; its own render cache is for `ALL`."""

    __slots__ = ("regions",)

    def __init__(self) -> None:
        super().__init__()
        self.regions: dict[str, Series] = {}

    def figures(self, now: float, spans: Spans = WINDOWS) -> dict[str, Figures]:
        """Figures of every named window (or of `spans` only) over all regions."""
        windows = [s.window for s in self.regions.values()]
        return {name: figures(windows, now, span) for name, span in spans.items()}

    def expires(self, now: float, spans: Spans = WINDOWS) -> float:
        """When the figures of a window of `spans` change by time alone."""
        return min((s.expires(now, spans) for s in self.regions.values()), default=_NEVER)


class Stats:
    """All series: check -> region -> `Series`."""

    def __init__(self, detailed: bool = False) -> None:
        self.checks: dict[str, CheckSeries] = {}
        self.detailed = detailed
        """Keep each series' duration histogram (`--detailed-metrics`)."""

    def ingest(self, samples: Sequence[Sample], now: float) -> int:
        """Add a batch of samples; returns how many were counted. `now` is
        not needed: a result counts when it ended."""
        checks = self.checks
        for s in samples:
            check = checks.get(s.check)
            if check is None:
                check = checks[s.check] = CheckSeries()
            series = check.regions.get(s.region)
            if series is None:
                series = check.regions[s.region] = Series(self.detailed)
            last = series.last
            if last is None or s.at >= last.at:
                series.last = s
            series.window.add(s.at, s.duration, counts_as_success(s))
            if s.success:
                series.successes += 1
            else:
                series.failures = counted(series.failures, s.reason.value)
            if series.histogram is not None:
                series.histogram[bisect.bisect_left(HISTOGRAM_BOUNDS, s.duration)] += 1
                series.duration_sum += s.duration
            series.text = check.text = None
        return len(samples)

    def get(self, check: str, region: str) -> Series | None:
        """The regional series, if any result came for it."""
        found = self.checks.get(check)
        return None if found is None else found.regions.get(region)

    def figures(self, check: str, region: str, now: float) -> dict[str, Figures]:
        """Figures of every named window for a region or `ALL`; empty
        figures when no result came."""
        found = self.checks.get(check)
        if found is None:
            return {name: Figures(None, 0, 0) for name in WINDOWS}
        if region == ALL:
            return found.figures(now)
        series = found.regions.get(region)
        return series.figures(now) if series else {n: Figures(None, 0, 0) for n in WINDOWS}

    def regional(self) -> Iterator[tuple[Key, Series]]:
        """Every regional series."""
        for check, found in self.checks.items():
            for region, series in found.regions.items():
                yield (check, region), series

    def forget(self, keep_checks: Iterable[str]) -> None:
        """Drop series of checks no longer configured."""
        for check in self.checks.keys() - set(keep_checks):
            del self.checks[check]
