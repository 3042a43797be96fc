"""Pure parts of the status page: uptime from incidents, the sparkline and
the state of a check."""

from __future__ import annotations

import pytest

from collector.stats.window import Window, p95_by_step
from collector.status_page import DAY, CheckRow, render, sparkline, uptime

NOW = 1_000_000.0
UPTIME = [
    ("no-incidents", [], DAY, 1.0),
    ("one-hour-resolved", [{"started_at": NOW - 7200, "resolved_at": NOW - 3600}], DAY, 1 - 3600 / DAY),
    ("open-since-an-hour", [{"started_at": NOW - 3600, "resolved_at": None}], DAY, 1 - 3600 / DAY),
    ("started-before-window", [{"started_at": NOW - 2 * DAY, "resolved_at": NOW - DAY + 600}], DAY, 1 - 600 / DAY),
    ("ended-before-window", [{"started_at": NOW - 3 * DAY, "resolved_at": NOW - 2 * DAY}], DAY, 1.0),
    ("overlaps-counted-once", [{"started_at": NOW - 3600, "resolved_at": NOW - 1800},
                               {"started_at": NOW - 2700, "resolved_at": NOW - 900}], DAY, 1 - 2700 / DAY),
    ("whole-window", [{"started_at": NOW - 8 * DAY, "resolved_at": None}], 7 * DAY, 0.0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("incidents", "span", "want"), [u[1:] for u in UPTIME], ids=[u[0] for u in UPTIME]
)
def test_uptime(incidents: list[dict[str, float | None]], span: float, want: float) -> None:
    assert uptime(incidents, NOW, span) == pytest.approx(want)


def test_sparkline_draws_runs_and_gaps() -> None:
    svg = sparkline([0.1, 0.2, None, 0.4, 0.3, None, 0.2])
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 1
    assert "peak 400 ms" in svg
    assert "no data" in sparkline([None, None])


def _row(regions: dict[str, str], incidents: list[dict[str, object]] | None = None) -> CheckRow:
    return CheckRow("c", "http", {}, regions, 0.1, [0.1], 1.0, 1.0, incidents or [])


STATES = [
    ("up", _row({"a": "up", "b": "up"}), "up"),
    ("one-down", _row({"a": "up", "b": "down"}), "degraded"),
    ("stale", _row({"a": "stale", "b": "up"}), "degraded"),
    ("pending", _row({"a": "pending"}), "pending"),
    ("open-incident", _row({"a": "down"}, [{"started_at": 1.0, "resolved_at": None}]), "outage"),
    ("resolved-incident", _row({"a": "up"}, [{"started_at": 1.0, "resolved_at": 2.0}]), "up"),
]


@pytest.mark.parametrize(("row", "state"), [s[1:] for s in STATES], ids=[s[0] for s in STATES])
def test_check_state(row: CheckRow, state: str) -> None:
    assert row.state == state


def test_render_escapes_and_loads_nothing_from_elsewhere() -> None:
    row = CheckRow("<x>", "http", {"team": "a&b"}, {"eu": "up"}, None, [], 1.0, 1.0)
    page = render([row], NOW, "v1")
    assert "&lt;x&gt;" in page and "a&amp;b" in page and "<x>" not in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert 'http-equiv="refresh"' in page and 'name="viewport"' in page


def test_p95_by_step_buckets_successes_per_minute_over_regions() -> None:
    a, b = Window(3600.0), Window(3600.0)
    a.add(NOW - 30, 0.1, True)  # last minute
    b.add(NOW - 20, 0.3, True)  # last minute, another region
    a.add(NOW - 150, 0.2, True)  # third minute from the end
    a.add(NOW - 90, 9.0, False)  # a failure has no latency
    points = p95_by_step([a, b], NOW, 300.0, 60.0)
    assert points == [None, None, 0.2, None, 0.3]
