"""Deadlines by key: what the evaluator's `tick` looks at instead of walking
every check. Pure.

A lazy min-heap: each key has at most one *live* deadline (the one in
`_due`); setting a new one pushes a new heap entry and leaves the old entry
in place, to be skipped when it is popped. Popping is O(log n) per entry,
so a tick costs O(what fell due), not O(checks).
"""

from __future__ import annotations

import heapq
import math
from typing import Generic, TypeVar

K = TypeVar("K", str, tuple[str, str])


class Deadlines(Generic[K]):
    """One deadline per key; `due(now)` takes the keys whose time came."""

    __slots__ = ("_due", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, K]] = []
        self._due: dict[K, float] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: object) -> bool:
        return key in self._due

    def get(self, key: K) -> float | None:
        """The live deadline of `key`, None when it has none."""
        return self._due.get(key)

    def set(self, key: K, at: float) -> None:
        """Make `at` the deadline of `key` (replacing any other)."""
        if self._due.get(key) != at:
            self._due[key] = at
            heapq.heappush(self._heap, (at, key))

    def earlier(self, key: K, at: float) -> None:
        """Set `at` unless `key` is already due sooner."""
        current = self._due.get(key)
        if current is None or at < current:
            self.set(key, at)

    def discard(self, key: K) -> None:
        """Drop the deadline of `key`, if any."""
        self._due.pop(key, None)

    def clear(self) -> None:
        """Drop every deadline."""
        self._heap.clear()
        self._due.clear()

    def overdue(self, now: float) -> bool:
        """Whether the soonest deadline, live or superseded, is `now` or earlier."""
        return bool(self._heap) and self._heap[0][0] <= now

    def due(self, now: float, limit: float = math.inf) -> list[K]:
        """The keys whose deadline is `now` or earlier, soonest first, at
        most `limit` of them; their deadlines are removed."""
        heap, live = self._heap, self._due
        out: list[K] = []
        while heap and heap[0][0] <= now and len(out) < limit:
            at, key = heapq.heappop(heap)
            if live.get(key) == at:
                del live[key]
                out.append(key)
        if len(heap) > 2 * len(live) + 1024:  # mostly superseded entries: rebuild
            self._heap = [(at, key) for key, at in live.items()]
            heapq.heapify(self._heap)
        return out
