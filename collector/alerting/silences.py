"""Label matchers, silences and recurring maintenance windows. Pure: time
is passed in; time zones come from the system's tz database.

- A `Silence` mutes alerts whose labels match, between `starts_at` and
  `ends_at` (set through `POST /api/v1/silences`).
- A `MaintenanceWindow` mutes them on a weekly schedule in a time zone
  (from the config), e.g. Saturdays 02:00-04:00 UTC. A window whose end is
  not after its start runs past midnight into the next day.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as written in config, in `datetime.weekday()` order."""


@dataclass(frozen=True)
class Matchers:
    """Label equality and full-match regex conditions; all must hold.

    A missing label reads as "", as in Alertmanager.
    """

    equal: Mapping[str, str] = field(default_factory=dict)
    regex: Mapping[str, re.Pattern[str]] = field(default_factory=dict)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether `labels` satisfy every condition."""
        return all(labels.get(k, "") == v for k, v in self.equal.items()) and all(
            p.fullmatch(labels.get(k, "")) for k, p in self.regex.items()
        )

    def to_dict(self) -> dict[str, dict[str, str]]:
        """JSON-able form."""
        return {
            "match": dict(self.equal),
            "match_re": {k: p.pattern for k, p in self.regex.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, str]]) -> Matchers:
        """Inverse of `to_dict`; raises re.error on a bad pattern."""
        return cls(
            dict(data.get("match", {})),
            {k: re.compile(v) for k, v in data.get("match_re", {}).items()},
        )


@dataclass(frozen=True)
class Silence:
    """A one-off silence; `id` is derived from its content unless given."""

    matchers: Matchers
    starts_at: float
    ends_at: float
    comment: str = ""
    created_by: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            text = json.dumps([self.matchers.to_dict(), self.starts_at, self.ends_at, self.comment])
            object.__setattr__(self, "id", hashlib.sha256(text.encode()).hexdigest()[:16])

    def active(self, now: float) -> bool:
        """Whether it mutes at `now`."""
        return self.starts_at <= now < self.ends_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for the API and persistence."""
        return {
            "id": self.id,
            "matchers": self.matchers.to_dict(),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "comment": self.comment,
            "created_by": self.created_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        """Inverse of `to_dict`."""
        return cls(
            matchers=Matchers.from_dict(data["matchers"]),
            starts_at=float(data["starts_at"]),
            ends_at=float(data["ends_at"]),
            comment=str(data.get("comment", "")),
            created_by=str(data.get("created_by", "")),
            id=str(data.get("id", "")),
        )


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly recurring silence. Times are minutes after local midnight."""

    matchers: Matchers
    days: frozenset[int]
    """`datetime.weekday()` numbers of the days the window *starts* on."""
    start: int
    end: int
    timezone: str = "UTC"
    comment: str = ""

    def _spans(self, now: float, days: Iterable[int]) -> Iterable[tuple[float, float]]:
        zone = ZoneInfo(self.timezone)
        today = datetime.fromtimestamp(now, zone).date()
        for offset in days:
            day = today + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            # Wall-clock arithmetic on an aware datetime, so 02:00 stays 02:00
            # local time across a DST change.
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            length = (self.end - self.start) % (24 * 60) or 24 * 60
            start = midnight + timedelta(minutes=self.start)
            yield start.timestamp(), (start + timedelta(minutes=length)).timestamp()

    def active(self, now: float) -> bool:
        """Whether it mutes at `now` (yesterday's window may still be open)."""
        return any(s <= now < e for s, e in self._spans(now, (-1, 0)))

    def next_change(self, now: float) -> float | None:
        """The next time after `now` the window opens or closes."""
        edges = [t for span in self._spans(now, range(-1, 8)) for t in span if t > now]
        return min(edges, default=None)


class Silences:
    """The silences from the API and the maintenance windows from config."""

    def __init__(self, windows: Iterable[MaintenanceWindow] = ()) -> None:
        self.windows = tuple(windows)
        self._silences: dict[str, Silence] = {}

    def add(self, silence: Silence) -> Silence:
        """Add (or replace, by id) a silence."""
        self._silences[silence.id] = silence
        return silence

    def expire(self, silence_id: str, now: float) -> bool:
        """End a silence now; False when there is no such silence."""
        silence = self._silences.get(silence_id)
        if silence is None:
            return False
        self._silences[silence_id] = Silence(
            silence.matchers, silence.starts_at, min(now, silence.ends_at), silence.comment,
            silence.created_by, silence.id,
        )  # fmt: skip
        return True

    def silences(self) -> list[Silence]:
        """Every known silence, active or not, by start time."""
        return sorted(self._silences.values(), key=lambda s: (s.starts_at, s.id))

    def prune(self, now: float) -> None:
        """Forget silences that have ended."""
        self._silences = {i: s for i, s in self._silences.items() if s.ends_at > now}

    def is_silenced(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether an alert with `labels` is muted at `now`."""
        if not self._silences and not self.windows:
            return False  # the usual case, asked for every alert on every pass
        mutes: list[Silence | MaintenanceWindow] = [*self._silences.values(), *self.windows]
        return any(m.active(now) and m.matchers.matches(labels) for m in mutes)

    def next_change(self, now: float) -> float | None:
        """The next time after `now` that any silence starts or ends."""
        edges = [t for s in self._silences.values() for t in (s.starts_at, s.ends_at) if t > now]
        edges += [t for w in self.windows if (t := w.next_change(now)) is not None]
        return min(edges, default=None)

    def export_state(self) -> list[dict[str, Any]]:
        """The API silences, JSON-able (windows come from config)."""
        return [s.to_dict() for s in self.silences()]

    def load_state(self, data: Iterable[Mapping[str, Any]]) -> None:
        """Restore `export_state` output."""
        self._silences = {s.id: s for s in map(Silence.from_dict, data)}
