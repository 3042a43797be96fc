"""Region state with hysteresis, the quorum rule that turns region states
into a check outage, and the incident an outage records. Pure.

A region goes *down* after `failure_threshold` consecutive failures and comes
back *up* only after `success_threshold` consecutive successes: one good
result in the middle of an outage does not end it, and one bad result in the
middle of a good run does not start one, so flapping targets make no alerts.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

Quorum = int | str
"""A number of regions, `majority` (more than half) or `all`."""


class Transition(StrEnum):
    """What a result did to a region."""

    DOWN = "down"
    UP = "up"


@dataclass(frozen=True)
class Failure:
    """The facts of one failing result that an incident keeps."""

    at: float
    reason: str
    message: str = ""
    request_id: str = ""
    agent_id: str = ""
    release: str = ""
    findings: tuple[str, ...] = ()
    """Failed assertions (DNS answers, SPF/DMARC records, ...)."""

    @property
    def cause(self) -> str:
        """`connect_refused (connection refused)`: reason and what was seen."""
        seen = "; ".join(self.findings) or self.message
        return f"{self.reason} ({seen})" if seen else self.reason

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "at": self.at,
            "reason": self.reason,
            "message": self.message,
            "request_id": self.request_id,
            "agent_id": self.agent_id,
            "release": self.release,
            "findings": list(self.findings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Failure:
        """Inverse of `to_dict`."""
        return cls(**{**data, "findings": tuple(data.get("findings", ()))})


def _opt_failure(data: dict[str, Any] | None) -> Failure | None:
    return None if data is None else Failure.from_dict(data)


@dataclass(slots=True)
class RegionState:
    """Consecutive-result counters and up/down state of one (check, region)."""

    failures: int = 0
    successes: int = 0
    down: bool = False
    last_seen: float | None = None
    """When the collector last received a result (its own clock, so agent
    clock skew cannot make a region look stale)."""
    since: float = 0.0
    """When we started watching (or restarted): silence counts from here."""
    agent_id: str = ""
    first_failure: Failure | None = None
    """The first failing result of the current failure streak."""
    in_incident: bool = False
    """This region's failures belong to an incident already paged, until it
    recovers: they must not count again towards the error ratio."""

    def record(
        self, failure: Failure | None, now: float, agent_id: str, thresholds: tuple[int, int]
    ) -> Transition | None:
        """Count one result (`failure` None means success); return a transition."""
        if self.last_seen is None or now > self.last_seen:
            self.last_seen = now
        self.agent_id = agent_id
        if failure is not None:
            return self._failure(failure, thresholds[0])
        # A success, inline: it is nearly every result the collector takes.
        self.failures = 0
        self.successes += 1
        if self.down and self.successes < thresholds[1]:
            return None  # still down: keep the streak's first failure
        if self.successes >= thresholds[1]:
            self.in_incident = False
        self.first_failure = None
        if self.down:
            self.down = False
            return Transition.UP
        return None

    def _failure(self, failure: Failure, threshold: int) -> Transition | None:
        self.successes = 0
        self.failures += 1
        if self.first_failure is None:
            self.first_failure = failure
        if not self.down and self.failures >= threshold:
            self.down = True
            return Transition.DOWN
        return None

    def is_stale(self, now: float, limit: float) -> bool:
        """No result for longer than `limit`, counting from `since` at the
        earliest: a restarted collector gives agents time to report."""
        seen = self.since if self.last_seen is None else max(self.last_seen, self.since)
        return now - seen > limit

    def deadline(self, limit: float) -> float:
        """When silence makes the region stale (see `is_stale`)."""
        seen = self.since if self.last_seen is None else max(self.last_seen, self.since)
        return seen + limit

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        first = self.first_failure
        return {
            "failures": self.failures,
            "successes": self.successes,
            "down": self.down,
            "last_seen": self.last_seen,
            "since": self.since,
            "agent_id": self.agent_id,
            "first_failure": None if first is None else first.to_dict(),
            "in_incident": self.in_incident,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegionState:
        """Inverse of `to_dict`."""
        return cls(**{**data, "first_failure": _opt_failure(data.get("first_failure"))})


def needed(quorum: Quorum, voters: int) -> int:
    """How many of `voters` regions must be down for an outage."""
    if quorum == "all":
        return voters
    if quorum == "majority":
        return voters // 2 + 1
    return min(int(quorum), voters)


def outage_holds(
    regions: dict[str, RegionState], stale: AbstractSet[str], quorum: Quorum, is_open: bool
) -> bool | None:
    """Whether a check is in outage; None when no region is live (no data
    says nothing about the target, so the current state stands).

    Stale regions do not vote to open an outage. To close one, a region that
    was down when it went silent still counts as down: only fresh successes
    end an incident, never silence.
    """
    live = [r for r in regions if r not in stale]
    if not live:
        return None
    voters = live + [r for r in regions if r in stale and regions[r].down and is_open]
    down = sum(1 for r in voters if regions[r].down)
    return down >= needed(quorum, len(voters))


def stamp(at: float) -> str:
    """`2025-03-01 14:02:07Z`: a unix time as on-call reads it."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass
class Incident:
    """One outage of one check: when, where, why, and which release was live."""

    check: str
    alertname: str
    started_at: float
    """The time of the first failing result, not of the confirmation."""
    confirmed_at: float
    regions: dict[str, Failure] = field(default_factory=dict)
    release: str = ""
    attribution: str = ""
    resolved_at: float | None = None

    @property
    def id(self) -> str:
        """Deterministic, so two collectors name the same incident alike."""
        return f"{self.check}@{math.floor(self.started_at)}"

    @property
    def first(self) -> Failure:
        """The earliest failing result of the incident."""
        return min(self.regions.values(), key=lambda f: (f.at, f.request_id))

    def causes(self) -> str:
        """`eu-west, us-east: connect_refused (refused)`; one part per cause."""
        by_cause: dict[str, list[str]] = {}
        for region in sorted(self.regions):
            by_cause.setdefault(self.regions[region].cause, []).append(region)
        return "; ".join(f"{', '.join(regions)}: {cause}" for cause, regions in by_cause.items())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; also what receivers and the incidents API show."""
        return {
            "id": self.id,
            "check": self.check,
            "alertname": self.alertname,
            "started_at": self.started_at,
            "confirmed_at": self.confirmed_at,
            "resolved_at": self.resolved_at,
            "regions": {r: f.to_dict() for r, f in sorted(self.regions.items())},
            "first_request_id": self.first.request_id if self.regions else "",
            "release": self.release,
            "attribution": self.attribution,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        """Inverse of `to_dict`."""
        return cls(
            check=data["check"],
            alertname=data["alertname"],
            started_at=float(data["started_at"]),
            confirmed_at=float(data["confirmed_at"]),
            regions={r: Failure.from_dict(f) for r, f in data["regions"].items()},
            release=data.get("release", ""),
            attribution=data.get("attribution", ""),
            resolved_at=data.get("resolved_at"),
        )
