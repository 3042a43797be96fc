"""Bounds on one agent: pure functions, `now` passed in."""

from __future__ import annotations

import asyncio

import pytest

from collector.limits import MAX_SEQ_AHEAD_S, RateLimit, label_refusal, seq_refusal
from collector.model import Sample
from collector.server import SLICE, Ingest

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


@pytest.mark.parametrize(
    ("size", "slices"),
    [(8, [8]), (SLICE, [SLICE]), (SLICE * 2 + 1, [SLICE, SLICE, 1])],
    ids=["agent-sized", "one-slice", "backlog"],
)
def test_a_big_batch_reaches_the_sink_in_slices_with_the_loop_free_between(
    size: int, slices: list[int]
) -> None:
    got: list[int] = []
    turns_before: list[int] = []
    turns = 0

    async def main() -> bool:
        nonlocal turns
        done = asyncio.Event()

        async def other() -> None:  # stands for /healthz and other streams
            nonlocal turns
            while not done.is_set():
                turns += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        await asyncio.sleep(0)

        def sink(part: list[Sample], _now: float) -> None:
            got.append(len(part))
            turns_before.append(turns)

        ingest = Ingest(sink)
        samples = [
            Sample(check="c", region="r", agent_id="a", at=NOW, duration=0.1, success=True)
        ] * size
        new = await ingest.accept("agent:a", samples, 1, NOW)
        again = await ingest.accept("agent:a", samples, 1, NOW)  # a duplicate
        done.set()
        await task
        return new and not again

    assert asyncio.run(main())
    assert got == slices
    assert turns_before == sorted(set(turns_before))  # the loop ran between slices
