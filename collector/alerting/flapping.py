"""Flap damping per check. Pure: no I/O, `now` passed in.

A check whose outage state (down / recovered) changed more than `changes`
times within `window` is *flapping*. Like Nagios' flap detection, which stops
notifying for a host whose state changes too often and notifies once when it
starts and stops flapping, and like Datadog's renotify, which re-sends only
while a state holds:

- the change that crosses the threshold sends one `CheckFlapping` notice
  (at the check's outage severity) instead of its own page or resolve;
- further changes are quiet: the check's alerts still fire and resolve
  inside the evaluator, but nothing is emitted (`Lifecycle.damp`);
- once no change happened for `settle`, the check has *settled*:
  `CheckFlapping` resolves and one notice says the final state (a `CheckDown`
  that still holds fires; one that receivers saw and that ended resolves).

Defaults: more than 2 changes in 10 minutes (a second outage starting within
10 minutes of the first), settled after 5 minutes without a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.config.base import FlappingSpec

_DEFAULTS = FlappingSpec.model_fields  # the defaults live in the config model


@dataclass(frozen=True)
class FlapPolicy:
    """Flap-damping thresholds of one check (`changes: 0` turns it off),
    from the check's `flapping:` settings."""

    changes: int = _DEFAULTS["changes"].default
    """More state changes than this within `window` is flapping."""
    window: float = _DEFAULTS["window"].default
    settle: float = _DEFAULTS["settle"].default
    """No change for this long ends flapping."""


@dataclass
class FlapState:
    """The recent outage-state changes of one check."""

    changes: list[float] = field(default_factory=list)
    since: float | None = None
    """When flapping began; None while not flapping."""

    def change(self, now: float, policy: FlapPolicy) -> bool:
        """Record a change; True when it makes the check start flapping."""
        self.changes = [t for t in self.changes if now - t < policy.window] + [now]
        if self.since is None and policy.changes and len(self.changes) > policy.changes:
            self.since = now
            return True
        return False

    def settled(self, now: float, policy: FlapPolicy) -> bool:
        """True once, when a flapping check has gone `settle` without a change."""
        if self.since is None or now - max(self.changes, default=self.since) < policy.settle:
            return False
        self.since = None
        self.changes = []
        return True

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"changes": self.changes, "since": self.since}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlapState:
        """Inverse of `to_dict`."""
        since = data.get("since")
        return cls(
            [float(t) for t in data.get("changes", [])], None if since is None else float(since)
        )
