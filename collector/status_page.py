"""The collector's status page: `/` and `/status`, server-rendered HTML for
a human, with no JavaScript and nothing loaded from elsewhere.

Per check: its state and each region's (as the alerts see them), uptime
over 24 h and 7 d (time outside outage incidents), the 5-minute p95, a
latency sparkline over the last hour (inline SVG, p95 per minute), and open
and recent incidents with the release they are attributed to. The page
reloads itself every `REFRESH` seconds with a meta refresh.

The pure parts (`uptime`, `sparkline`, `render`) take `now` and plain data;
`StatusPage` gathers that data from the running collector.
"""

from __future__ import annotations

import datetime
import html
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from collector.alerting.service import AlertingService
from collector.stats.series import ALL, Stats
from collector.stats.window import p95_by_step
from common.config import CheckBase, Config

REFRESH = 30
"""Seconds between the page's own reloads."""
DAY = 86400.0
RECENT = 7 * DAY
"""Resolved incidents younger than this are listed under their check."""
_BEAT_STATES = {"new": "pending", "up": "up"}
"""Heartbeat states as the page words them; any other (missed, failed) is down."""
_INCIDENTS_READ = 200
"""Newest incidents read from the store per page view (bounded work)."""


def uptime(incidents: Iterable[Mapping[str, Any]], now: float, span: float) -> float:
    """The share of the last `span` seconds outside the given incidents
    (overlaps counted once); 1.0 without incidents."""
    start = now - span
    spans = sorted(
        (max(float(i["started_at"]), start), min(float(i.get("resolved_at") or now), now))
        for i in incidents
    )
    down, reach = 0.0, start
    for begin, end in spans:
        counted = max(begin, reach)
        if end > counted:
            down += end - counted
            reach = end
    return max(0.0, 1.0 - down / span)


def sparkline(points: Sequence[float | None], width: int = 120, height: int = 28) -> str:
    """An inline SVG polyline of `points` (None: a gap), scaled to its max."""
    known = [p for p in points if p is not None]
    if not known:
        return '<span class="muted">no data</span>'
    top = max(known) or 1.0
    step = (width - 4) / max(len(points) - 1, 1)
    runs: list[list[str]] = [[]]
    for i, p in enumerate(points):
        if p is None:
            runs.append([])
            continue
        runs[-1].append(f"{2 + i * step:.1f},{height - 2 - (p / top) * (height - 4):.1f}")
    lines = "".join(
        f'<polyline points="{" ".join(run)}"/>' if len(run) > 1 else _dot(run[0])
        for run in runs
        if run
    )
    label = f"p95 per minute over the last hour, peak {_ms(top)}"
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">'
        f"<title>{label}</title>{lines}</svg>"
    )


def _dot(point: str) -> str:
    x, y = point.split(",")
    return f'<circle cx="{x}" cy="{y}" r="1.5"/>'


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _pct(ratio: float) -> str:
    # Rounded down, so a short outage never shows as 100%.
    return "100%" if ratio >= 1 else f"{math.floor(ratio * 100_000) / 1000:.3f}%"


def _iso(epoch: float | None) -> str:
    if not epoch:
        return ""
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass
class CheckRow:
    """What the page shows for one check."""

    name: str
    type: str
    labels: Mapping[str, str]
    regions: Mapping[str, str]
    p95: float | None
    spark: Sequence[float | None]
    uptime_24h: float
    uptime_7d: float
    incidents: Sequence[Mapping[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> str:
        """`outage` with an open incident or every region down, `degraded`
        with a region down or stale, `up`, or `pending` before any result."""
        states = set(self.regions.values())
        if any(not i.get("resolved_at") for i in self.incidents) or states == {"down"}:
            return "outage"
        if states & {"down", "stale"}:
            return "degraded"
        return "up" if "up" in states else "pending"


def render(rows: Sequence[CheckRow], now: float, config_version: str, token: str = "") -> str:
    """The whole page."""
    counts = {s: sum(r.state == s for r in rows) for s in ("outage", "degraded", "up", "pending")}
    overall = next((s for s in ("outage", "degraded") if counts[s]), "up" if rows else "pending")
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no checks configured"
    refresh = f"{REFRESH};url=?token={html.escape(token)}" if token else str(REFRESH)
    cards = "\n".join(_card(r, now) for r in rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{refresh}">
<title>Vantage status: {overall}</title>
<style>{_CSS}</style></head>
<body><main>
<header class="top state-{overall}" data-overall="{overall}">
<h1>Vantage status</h1><p class="summary">{summary}</p>
<p class="muted">as of {_iso(now)} · config {html.escape(config_version)} ·
reloads every {REFRESH}s · <a href="/api/v1/checks">JSON</a> · <a href="/metrics">metrics</a></p>
</header>
<section class="checks">
{cards}
</section></main></body></html>
"""


def _card(row: CheckRow, now: float) -> str:
    name = html.escape(row.name)
    chips = "".join(
        f'<li class="chip state-{s}" data-region="{html.escape(r)}" data-state="{s}">'
        f"{html.escape(r)} <b>{s}</b></li>"
        for r, s in sorted(row.regions.items())
    )
    labels = " ".join(
        f'<span class="label">{html.escape(k)}={html.escape(v)}</span>'
        for k, v in sorted(row.labels.items())
    )
    state = row.state
    return f"""<article class="check state-{state}" data-check="{name}" data-state="{state}">
<h2><span class="badge state-{row.state}">{row.state}</span> {name}
<small class="muted">{html.escape(row.type)}</small></h2>
<p>{labels}</p>
<ul class="regions">{chips}</ul>
<dl class="figures">
<div><dt>uptime 24h</dt><dd data-figure="uptime_24h">{_pct(row.uptime_24h)}</dd></div>
<div><dt>uptime 7d</dt><dd data-figure="uptime_7d">{_pct(row.uptime_7d)}</dd></div>
<div><dt>p95 (5m)</dt><dd data-figure="p95">{_ms(row.p95)}</dd></div>
<div><dt>latency, 1h</dt><dd>{sparkline(row.spark)}</dd></div>
</dl>
{_incidents(row.incidents, now)}
</article>"""


def _incidents(incidents: Sequence[Mapping[str, Any]], now: float) -> str:
    if not incidents:
        return '<p class="muted">no incidents in the last 7 days</p>'
    items = []
    for i in incidents:
        open_ = not i.get("resolved_at")
        when = (
            f"since {_iso(i['started_at'])}"
            if open_
            else (f"{_iso(i['started_at'])} to {_iso(i['resolved_at'])}")
        )
        release, attribution = i.get("release") or "", i.get("attribution") or ""
        why = ", ".join(
            f"{html.escape(r)}: {html.escape(str(f.get('reason', '')))}"
            for r, f in sorted((i.get("regions") or {}).items())
        )
        items.append(
            f'<li class="incident {"open" if open_ else "resolved"}">'
            f"<b>{'open' if open_ else 'resolved'}</b> {html.escape(str(i.get('alertname', '')))} "
            f'{when} <span class="muted">{why}</span>'
            + (
                f' <span class="release">{html.escape(attribution or "release " + release)}</span>'
                if attribution or release
                else ""
            )
            + "</li>"
        )
    return f'<ul class="incidents">{"".join(items)}</ul>'


_CSS = """
:root{color-scheme:light dark;--ok:#1a7f37;--warn:#b35900;--bad:#c62828;--mute:#777;
--bg:#fff;--card:#f6f7f9;--fg:#1b1f24}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#1a1d23;--fg:#e6e6e6;--mute:#9aa}}
*{box-sizing:border-box}
html{font-size:clamp(15px,0.55vw + 10px,30px)}
body{margin:0;background:var(--bg);color:var(--fg);font-family:system-ui,sans-serif;line-height:1.4}
main{max-width:min(100%,120rem);margin:0 auto;padding:1rem}
h1{margin:0 0 .25rem;font-size:1.6rem}h2{margin:0;font-size:1.15rem}
.top{border-left:.4rem solid var(--ok);padding:.5rem 1rem;margin-bottom:1rem}
.top.state-outage{border-color:var(--bad)}.top.state-degraded{border-color:var(--warn)}
.summary{font-size:1.2rem;margin:.25rem 0}
.checks{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,24rem),1fr))}
.check{background:var(--card);border-radius:.5rem;padding:1rem;border-top:.3rem solid var(--ok)}
.check.state-outage{border-color:var(--bad)}.check.state-degraded{border-color:var(--warn)}
.check.state-pending{border-color:var(--mute)}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;color:#fff;font-size:.8rem;
vertical-align:middle;background:var(--ok)}
.badge.state-outage{background:var(--bad)}.badge.state-degraded{background:var(--warn)}
.badge.state-pending{background:var(--mute)}
.regions{list-style:none;padding:0;margin:.5rem 0;display:flex;flex-wrap:wrap;gap:.4rem}
.chip{border:1px solid var(--ok);border-radius:1rem;padding:0 .6rem;font-size:.85rem}
.chip.state-down{border-color:var(--bad);color:var(--bad)}
.chip.state-stale,.chip.state-pending{border-color:var(--mute);color:var(--mute)}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(7rem,1fr));gap:.5rem;
margin:.5rem 0}
dt{font-size:.75rem;color:var(--mute)}
dd{margin:0;font-size:1.05rem;font-variant-numeric:tabular-nums}
.spark{width:100%;max-width:12rem;height:2rem;fill:none;stroke:currentColor;stroke-width:1.5}
.spark circle{fill:currentColor}
.label{font-size:.75rem;color:var(--mute);margin-right:.4rem}
.muted{color:var(--mute)}a{color:inherit}
.incidents{padding-left:1.1rem;margin:.5rem 0;font-size:.9rem}
.incident.open b{color:var(--bad)}.release{font-family:ui-monospace,monospace}
"""


class StatusPage:
    """Gathers each check's figures from the running collector and serves
    the page. With reads closed (`--private`), `collector.api` asks for an
    API token first (`Authorization: Bearer`, or `?token=` from a browser)."""

    def __init__(
        self,
        config: Callable[[], Config],
        stats: Stats,
        alerting: AlertingService,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.stats = stats
        self.alerting = alerting
        self.clock = clock

    def add_routes(self, app: web.Application) -> None:
        """Register `/` and `/status`."""
        app.router.add_get("/", self.page)
        app.router.add_get("/status", self.page)

    def rows(self, now: float) -> list[CheckRow]:
        """One row per configured check, in config order."""
        incidents = self.alerting.store.list_incidents(_INCIDENTS_READ)
        by_check: dict[str, list[dict[str, Any]]] = {}
        for i in incidents:
            if not i.get("resolved_at") or float(i["resolved_at"]) > now - RECENT:
                by_check.setdefault(i["check"], []).append(i)
        return [self._row(c, by_check.get(c.name, []), now) for c in self.config().checks]

    def _row(self, check: CheckBase, incidents: list[dict[str, Any]], now: float) -> CheckRow:
        p95 = self.stats.figures(check.name, ALL, now)["5m"].p95
        found = self.stats.checks.get(check.name)
        windows = [s.window for s in found.regions.values()] if found else []
        spark = p95_by_step(windows, now, 3600.0, 60.0)
        regions = self.alerting.evaluator.region_states(check.name, now)
        if check.type == "heartbeat":  # pinged, not probed: no regions
            beats = {b["check"]: b["state"] for b in self.alerting.heartbeats.status(now)}
            regions = {"heartbeat": _BEAT_STATES.get(beats.get(check.name, "new"), "down")}
        return CheckRow(
            check.name, check.type, dict(check.labels), regions, p95, spark,
            uptime(incidents, now, DAY), uptime(incidents, now, 7 * DAY), incidents,
        )  # fmt: skip

    async def page(self, request: web.Request) -> web.Response:
        """The HTML page."""
        now = self.clock()
        body = render(self.rows(now), now, self.config().version, request.query.get("token", ""))
        return web.Response(
            text=body, content_type="text/html", headers={"Cache-Control": "no-store"}
        )
