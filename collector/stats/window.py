"""Sliding time windows over probe results: the one engine behind the
dashboard's `vantage_check_latency_p95_seconds` and `vantage_check_error_ratio`,
the JSON API and the SLO alerts (`collector.alerting.slo`), with one
quantile rule, `p95`.

Pure: time comes in as arguments.

A window keeps the results it holds, in end-time order: successes in one
buffer of unboxed floats (end times, then durations) sized to what the
span holds, and failures (~2%) as an array of end times, so a window holds
no Python object per result. In production a
series gets one result per interval (60 per hour at 60 s), so the p95 is
exact, not a sketch; under a flood a window keeps the newest `MAX_SAMPLES`
of each kind.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

MAX_SAMPLES = 2000
"""Successes, and failures, one window keeps at most."""


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank: the value at 1-based rank
    ceil(0.95 n) of the sorted values (with 10 values, the largest; with 20,
    the 19th). `values` must not be empty.

    The one rule for every p95 the collector shows or alerts on."""
    rank = -(-95 * len(values) // 100)  # ceil(0.95 n) in integers: no float rounding
    return sorted(values)[rank - 1]


@dataclass(frozen=True, slots=True)
class Figures:
    """What a window holds over one span."""

    p95: float | None
    """Of successful durations; None without successes."""
    successes: int
    failures: int

    @property
    def samples(self) -> int:
        """Results in the span."""
        return self.successes + self.failures

    @property
    def error_ratio(self) -> float | None:
        """Failures over results, None without results."""
        total = self.successes + self.failures
        return self.failures / total if total else None


class Window:
    """Results of one series over the last `span` seconds (see the module).

    Successes live in one buffer of `2 * _cap` floats: end times in
    `_buf[_lo:_hi]`, their durations `_cap` further on. The buffer is
    allocated once at about the size the window needs (estimated from the
    gap between results), not grown append by append: growing arrays per
    series through every small size left holes among the objects allocated
    meanwhile, ~600 B of RSS per series over the first hour at 50,000
    checks; and one buffer instead of two saves an array object per window
    (~80 B). Forgetting a result moves `_lo`; the live part slides to the
    front only when the end is reached. Failures' end times are an array
    made at the first failure (most windows hold none).
    """

    __slots__ = ("_buf", "_cap", "_failed_at", "_hi", "_lo", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self._buf = _EMPTY
        self._cap = self._lo = self._hi = 0
        self._failed_at = _NO_FAILURES

    def __len__(self) -> int:
        return self._hi - self._lo + len(self._failed_at)

    def add(self, at: float, duration: float, success: bool) -> None:
        """Add a result that ended at `at`; forgets what `at` pushes out."""
        if success:
            if self._hi == self._cap:
                self._make_room()
            buf, cap, lo, hi = self._buf, self._cap, self._lo, self._hi
            if hi == lo or at >= buf[hi - 1]:
                buf[hi] = at
                buf[cap + hi] = duration
            else:  # a little late (another agent's clock, a re-sent batch)
                index = bisect.bisect_right(buf, at, lo, hi)
                buf[index + 1 : hi + 1] = buf[index:hi]
                buf[cap + index + 1 : cap + hi + 1] = buf[cap + index : cap + hi]
                buf[index] = at
                buf[cap + index] = duration
            self._hi = hi = hi + 1
            if buf[lo] <= at - self.span or hi - lo > MAX_SAMPLES:
                self.prune(at)
        else:
            failed_at = self._failed_at
            if failed_at is _NO_FAILURES:
                self._failed_at = failed_at = array("d")
            if not failed_at or at >= failed_at[-1]:
                failed_at.append(at)
            else:
                failed_at.insert(bisect.bisect_right(failed_at, at), at)
            if failed_at[0] <= at - self.span or len(failed_at) > MAX_SAMPLES:
                self.prune(at)

    def _make_room(self) -> None:
        """Room for one more success at the end: slide the live part to the
        front, or move it into a buffer of the size the window needs (when
        full, or when it is over twice that size)."""
        buf, cap, lo, hi = self._buf, self._cap, self._lo, self._hi
        count = hi - lo
        size = self._size(count)
        if lo and cap <= 2 * size:
            buf[:count] = buf[lo:hi]
            buf[cap : cap + count] = buf[cap + lo : cap + hi]
        else:
            # Made by repetition, an array is allocated at its size; grown
            # by `extend`, it is over-allocated by 1/16 + 7.
            new = array("d", [0.0]) * (2 * size)
            new[:count] = buf[lo:hi]
            new[size : size + count] = buf[cap + lo : cap + hi]
            self._buf, self._cap = new, size
        self._lo, self._hi = 0, count

    def _size(self, count: int) -> int:
        """Room for `count` successes and more: what the span holds at the
        mean gap between them (+10%, +4); half as much again while there is
        no such estimate, or the window holds more than it says; at least
        count + 1, at most MAX_SAMPLES + 1 beyond that."""
        size = count + count // 2 + 2
        if count >= 2 and math.isfinite(self.span):
            gap = (self._buf[self._hi - 1] - self._buf[self._lo]) / (count - 1)
            expected = self.span / gap if gap > 0 else math.inf
            if 0.9 * count <= expected <= MAX_SAMPLES:
                size = int(max(expected, count) * 1.1) + 4
        return max(count + 1, min(size, MAX_SAMPLES + 1))

    def prune(self, now: float) -> None:
        """Forget results that ended `span` or more seconds before `now`,
        and all but the newest MAX_SAMPLES of each kind."""
        oldest = now - self.span
        lo, hi = self._lo, self._hi
        self._lo = max(bisect.bisect_right(self._buf, oldest, lo, hi), hi - MAX_SAMPLES, lo)
        failed_at = self._failed_at
        drop = max(bisect.bisect_right(failed_at, oldest), len(failed_at) - MAX_SAMPLES)
        if drop > 0:
            del failed_at[:drop]
            if not failed_at:
                self._failed_at = _NO_FAILURES

    def slower_than(self, limit: float) -> float:
        """When the newest success slower than `limit` ended (-inf: none)."""
        buf, cap = self._buf, self._cap
        for i in range(self._hi - 1, self._lo - 1, -1):  # the live part only
            if buf[cap + i] > limit:
                return buf[i]
        return -math.inf

    def durations(self, now: float, span: float) -> array[float]:
        """Successful durations that ended within `span` seconds of `now`."""
        first = bisect.bisect_right(self._buf, now - span, self._lo, self._hi)
        return self._buf[self._cap + first : self._cap + self._hi]

    def successes(self, since: float) -> Iterator[tuple[float, float]]:
        """(end time, duration) of the successes that ended after `since`."""
        buf, cap, hi = self._buf, self._cap, self._hi
        first = bisect.bisect_right(buf, since, self._lo, hi)
        return zip(buf[first:hi], buf[cap + first : cap + hi], strict=True)

    def failures(self, now: float, span: float) -> int:
        """Failures that ended within `span` seconds of `now`."""
        return len(self._failed_at) - bisect.bisect_right(self._failed_at, now - span)

    def figures(self, now: float, span: float) -> Figures:
        """p95 and counts over the last `span` seconds (at most `self.span`)."""
        return figures((self,), now, span)

    def expires(self, now: float, span: float) -> float:
        """When the oldest result within `span` of `now` leaves it (inf
        when there is none): the figures cannot change before then unless
        a result is added."""
        buf, failed_at, cut = self._buf, self._failed_at, now - span
        i = bisect.bisect_right(buf, cut, self._lo, self._hi)
        j = bisect.bisect_right(failed_at, cut)
        first = buf[i] if i < self._hi else math.inf
        return min(first, failed_at[j] if j < len(failed_at) else math.inf) + span

    def to_state(self) -> dict[str, list[float]]:
        """The window as JSON-able data, for `from_state` after a restart."""
        buf, cap, lo, hi = self._buf, self._cap, self._lo, self._hi
        return {
            "ok_at": list(buf[lo:hi]),
            "ok": list(buf[cap + lo : cap + hi]),
            "failed_at": list(self._failed_at),
        }

    @classmethod
    def from_state(cls, span: float, data: dict[str, Any]) -> Window:
        """A window from `to_state` output (results arrive as they were)."""
        window = cls(span)
        for at, duration in zip(data.get("ok_at", ()), data.get("ok", ()), strict=False):
            window.add(float(at), float(duration), True)
        for at in data.get("failed_at", ()):
            window.add(float(at), 0.0, False)
        return window


_EMPTY: array[float] = array("d")
"""The buffer of a window without successes: never written (a full
buffer is replaced before a write)."""

_NO_FAILURES: array[float] = array("d")
"""The failures of a window without any: never written (replaced by a
window's own array at its first failure)."""


def figures(windows: Iterable[Window], now: float, span: float) -> Figures:
    """Figures over several windows taken as one (a check over all its
    regions), by the same rule as one window's."""
    durations: array[float] = array("d")
    failures = 0
    for window in windows:
        durations.extend(window.durations(now, span))
        failures += window.failures(now, span)
    return Figures(p95(durations) if durations else None, len(durations), failures)


def p95_by_step(
    windows: Iterable[Window], now: float, span: float, step: float
) -> list[float | None]:
    """p95 of the successes in each `step` of the last `span` seconds over
    several windows, oldest first, None for a step without successes: the
    points of a latency sparkline, by the same rule as every other p95."""
    steps = int(span // step)
    buckets: list[list[float]] = [[] for _ in range(steps)]
    start = now - steps * step
    for window in windows:
        for at, duration in window.successes(start):
            index = min(int((at - start) // step), steps - 1)
            buckets[index].append(duration)
    return [p95(b) if b else None for b in buckets]
