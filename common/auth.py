"""Bearer-token checks, shared by the collector's gRPC edge (agent tokens)
and its HTTP API (API tokens)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable


def bearer_ok(header: str | bytes | None, tokens: Iterable[str]) -> bool:
    """Whether `Authorization: Bearer <token>` names one of `tokens`."""
    if not isinstance(header, str) or not header.startswith("Bearer "):
        return False
    presented = header.removeprefix("Bearer ").encode()
    # Compare against every token, so timing does not tell which one matched
    # or how many there are.
    matches = [hmac.compare_digest(presented, token.encode()) for token in tokens]
    return any(matches)
