"""Bounds on one agent: pure functions, `now` passed in."""

from __future__ import annotations

import pytest

from collector.limits import MAX_SEQ_AHEAD_S, RateLimit, label_refusal, seq_refusal
from collector.server import Ingest

NOW = 1_800_000_000.0
NOW_US = int(NOW * 1_000_000)


@pytest.mark.parametrize(
    ("seq", "ok"),
    [
        (1, True),
        (NOW_US, True),
        (NOW_US + int(MAX_SEQ_AHEAD_S * 1_000_000), True),
        (NOW_US + int(MAX_SEQ_AHEAD_S * 1_000_000) + 1, False),
        (2**63, False),
    ],
    ids=["small", "now", "at-the-skew-bound", "past-it", "2^63"],
)
def test_seq_bound(seq: int, ok: bool) -> None:
    assert (seq_refusal(seq, NOW) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("eu-west-1", True), ("host.example:eu", True), ("a" * 129, False), ("a b", False)],
    ids=["plain", "dots-colon", "too-long", "space"],
)
def test_label_values(value: str, ok: bool) -> None:
    assert (label_refusal("agent_id", value) is None) is ok


@pytest.mark.parametrize(
    ("takes", "allowed"),
    [
        ([(10, 0.0)], [True]),
        ([(10, 0.0), (1, 0.0)], [True, False]),
        ([(10, 0.0), (5, 0.5)], [True, True]),
        ([(10, 0.0), (6, 0.5)], [True, False]),
        ([(11, 0.0)], [False]),
        ([(10, 0.0), (10, 100.0)], [True, True]),
    ],
    ids=["burst", "empty", "refilled-half", "not-yet", "over-burst", "refill-caps-at-burst"],
)
def test_rate_limit(takes: list[tuple[int, float]], allowed: list[bool]) -> None:
    limit = RateLimit(rate=10, burst=10)
    assert [limit.take(n, NOW + t) for n, t in takes] == allowed


def test_restore_skips_marks_no_agent_could_have_made() -> None:
    ingest = Ingest(lambda samples, now: None)
    skipped = ingest.restore(
        {"eu-west-1": 5, "agent:eu-west-1": 2**63, "agent:us-east-1": NOW_US, "shared:x:a:r": "7"},
        NOW,
    )
    assert skipped == 3
    assert ingest.high_water == {"agent:us-east-1": NOW_US}
