"""Bounds on what one agent can make the collector do (pure: `now` is passed in).

- `RateLimit`: a token bucket of results per second per authenticated agent.
- `seq_refusal`: a batch `seq` the agent's clock cannot have produced.
- `label_refusal`: an agent id or region unfit to be a label value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SEQ_AHEAD_S = 300.0
"""An agent's seq is its wall clock in microseconds when it makes a batch
(and above its last), so it never runs ahead of the clock; this much clock skew between
agent and collector is tolerated. A seq further ahead is refused, so no batch
can push a dedup mark so far ahead that the agent's own batches look old."""
MAX_LABEL_LENGTH = 128
"""Characters in an agent id or region: both become label values."""
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def seq_refusal(seq: int, now: float) -> str | None:
    """Why `seq` is impossible at wall time `now`, or None when it is fine."""
    limit = int((now + MAX_SEQ_AHEAD_S) * 1_000_000)
    if seq <= limit:
        return None
    return (
        f"batch seq {seq} is ahead of the collector's clock ({int(now * 1_000_000)} us) by more "
        f"than {MAX_SEQ_AHEAD_S:.0f} s; seq is the agent's wall clock in microseconds: "
        "check the agent's clock"
    )


def label_refusal(field: str, value: str) -> str | None:
    """Why `value` cannot be an agent id or region, or None."""
    if not value:
        return f"Hello needs {field}"
    if len(value) > MAX_LABEL_LENGTH:
        return f"{field} is {len(value)} characters, over the maximum of {MAX_LABEL_LENGTH}"
    if not _LABEL.match(value):
        return f"{field} {value!r}: use letters, digits, '.', '_', ':' or '-'"
    return None


@dataclass
class RateLimit:
    """A token bucket: `rate` results per second, bursts up to `burst`."""

    rate: float
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, count: int, now: float) -> bool:
        """Spend `count` tokens if there are enough; False (nothing spent) if not."""
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if count > self.tokens:
            return False
        self.tokens -= count
        return True
