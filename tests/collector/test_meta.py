"""`vantage_agent_connected` as the shipped rules read it: an agent that
leaves a region others still serve has no series; the last one to leave
keeps its series at 0 until the region is served again."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from collector.metrics import CollectorMetrics
from collector.stats.series import Stats

Step = tuple[str, str, str, bool]
"""(up|down, agent, region, other agents still serve the region)."""


def series(steps: list[Step]) -> dict[tuple[str, str], float]:
    metrics = CollectorMetrics(Stats(), clock=lambda: 0.0)
    for kind, agent, region, served in steps:
        if kind == "up":
            metrics.agent_up(agent, region)
        else:
            metrics.agent_down(agent, region, served)
    out = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith("vantage_agent_connected{"):
            labels, value = line.rsplit(" ", 1)
            agent = labels.split('agent="')[1].split('"')[0]
            region = labels.split('region="')[1].split('"')[0]
            out[agent, region] = float(value)
    return out


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("up", "a1", "eu", False)], {("a1", "eu"): 1.0}),
        (
            [("up", "a1", "eu", False), ("up", "a2", "eu", False), ("down", "a1", "eu", True)],
            {("a2", "eu"): 1.0},
        ),
        ([("up", "a1", "eu", False), ("down", "a1", "eu", False)], {("a1", "eu"): 0.0}),
        (
            [("up", "a1", "eu", False), ("down", "a1", "eu", False), ("up", "a9", "eu", False)],
            {("a9", "eu"): 1.0},
        ),
        (
            [("up", "a1", "eu", False), ("down", "a1", "eu", False), ("up", "b1", "us", False)],
            {("a1", "eu"): 0.0, ("b1", "us"): 1.0},
        ),
    ],
    ids=[
        "connected",
        "replaced-pod-leaves-no-series",
        "last-agent-gone-stays-at-zero",
        "a-new-agent-serves-the-region-again",
        "other-regions-do-not-clear-it",
    ],
)
def test_agent_connected_series(steps: list[Step], expected: dict[tuple[str, str], float]) -> None:
    assert series(steps) == expected
