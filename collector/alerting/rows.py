"""State saved as rows: what changed since the last save, and the rows to
write for it. Pure.

The alerts' state (the lifecycle's firing alerts, the dispatcher's groups
and their alerts) is kept by row in the store, as the evaluator's checks
are: with thousands of alerts firing and resolving in a backlog, writing it
whole as one blob held the event loop up to ~100 ms on every save. An owner
marks the keys it changes (`Changed.mark`), and a save writes those rows and
deletes those gone (`Changed.take`), a bounded number per save as for the
checks (5,000 alerts firing at once made a 0.4 s save); after a failed
save, or a load from an older collector's blob, the next save writes every
row (`Changed.whole`).

Each owner's state is a mapping of *parts* (`{"active": ..., "damped":
...}`), each part a mapping of key -> JSON-able row: its `export()` is the
whole state, and its `take_rows()` the `Rows` to write for each part.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = dict[str, Any]


@dataclass(frozen=True)
class Rows:
    """The rows of one part to write: `rows` upserted, `removed` deleted, and
    when `whole`, every other row of the part deleted as well."""

    rows: Mapping[str, Mapping[str, Any]]
    removed: Iterable[str] = ()
    whole: bool = False


@dataclass
class Changed:
    """The keys of one part whose saved row is out of date."""

    keys: set[str] = field(default_factory=set)
    whole: bool = False
    """Every row is out of date: the next save rewrites the part."""

    def mark(self, key: str) -> None:
        """Row `key` changed, or is gone."""
        self.keys.add(key)

    def take(
        self,
        row_of: Callable[[str], Row | None],
        every: Callable[[], Mapping[str, Row]],
        most: int | None = None,
    ) -> Rows:
        """The rows to write for what changed, forgetting it: the row of each
        key changed (`row_of`, None when it is gone: it is deleted), at most
        `most` of them (the rest stay for the next call), or `every` row when
        the whole part is out of date."""
        if self.whole:
            self.keys, self.whole = set(), False
            return Rows(every(), (), whole=True)
        keys = self.keys
        if most is not None and len(keys) > most:
            keys = set(itertools.islice(keys, most))
            self.keys -= keys
        else:
            self.keys = set()
        rows: dict[str, Row] = {}
        removed: list[str] = []
        for k in keys:
            row = row_of(k)
            if row is None:
                removed.append(k)
            else:
                rows[k] = row
        return Rows(rows, removed)


class Parts:
    """What changed in each part of one owner's state (see the module)."""

    def __init__(self, names: Iterable[str]) -> None:
        self._changed = {name: Changed() for name in names}

    def mark(self, part: str, key: str) -> None:
        """Row `key` of `part` changed, or is gone."""
        self._changed[part].mark(key)

    def take(
        self,
        row_of: Mapping[str, Callable[[str], Row | None]],
        every: Callable[[], Mapping[str, Mapping[str, Row]]],
        most: int | None = None,
    ) -> dict[str, Rows]:
        """`Changed.take` of each part: `row_of` by part, `every` the whole
        state by part, at most `most` rows a part."""
        return {
            part: changed.take(row_of[part], lambda part=part: every()[part], most)  # type: ignore[misc]
            for part, changed in self._changed.items()
        }

    def unsaved(self) -> None:
        """The rows taken were not saved: the next `take` gives them all."""
        for changed in self._changed.values():
            changed.whole = True

    def pending(self) -> bool:
        """Whether a change is left for the next `take`."""
        return any(c.keys or c.whole for c in self._changed.values())


class Owner(Protocol):
    """State saved as rows: the lifecycle, the dispatcher, the deploys."""

    changes: Parts

    def take_rows(self, most: int | None = None) -> dict[str, Rows]:
        """The rows that changed since the last call, by part."""
        ...  # pragma: no cover
