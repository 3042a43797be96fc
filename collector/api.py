"""The collector's HTTP side: /metrics, /healthz, /readyz and the JSON API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest

from collector.api_inputs import errors_middleware
from collector.exposition import CONTENT_TYPE, Exposition
from collector.model import Sample
from collector.stats.series import ALL, Stats
from common.config import CheckBase, Config
from common.durations import format_duration
from common.redaction import scrub


def _window_view(stats: Stats, check: str, region: str, now: float) -> dict[str, Any]:
    return {
        name: {"p95_seconds": f.p95, "error_ratio": f.error_ratio, "samples": f.samples}
        for name, f in stats.figures(check, region, now).items()
    }


def _last_view(last: Sample | None) -> dict[str, Any] | None:
    if last is None:
        return None
    return {
        "success": last.success,
        "reason": last.reason.value,
        "message": scrub(last.message),
        "duration_seconds": round(last.duration, 6),
        "started_at": last.started_at,
        "agent": last.agent_id,
        "status_code": last.status_code or None,
        "request_id": last.request_id or None,
        "release": last.release or None,
    }


def check_view(check: CheckBase, stats: Stats, now: float) -> dict[str, Any]:
    """The JSON state of one check: settings, and stats per region and overall."""
    regions: dict[str, Any] = {}
    for region in [*check.regions, ALL]:
        series = stats.get(check.name, region)
        last = series.last if series is not None else None
        if region != ALL and series is None:
            regions[region] = {"last": None, "windows": {}}
            continue
        regions[region] = {
            "last": _last_view(last),
            "windows": _window_view(stats, check.name, region, now),
        }
    return {
        "name": check.name,
        "type": check.type,
        "interval": format_duration(check.interval),
        "labels": dict(check.labels),
        "regions": regions,
    }


class Api:
    """Routes of the collector's HTTP server."""

    def __init__(
        self,
        config: Callable[[], Config],
        stats: Stats,
        registry: Any,
        unready: Callable[[], list[str]],
        *,
        clock: Callable[[], float] = time.time,
        exposition: Exposition | None = None,
    ) -> None:
        self.config = config
        self.stats = stats
        self.registry = registry
        self.exposition = exposition or Exposition(stats, (), (), clock=clock)
        self.unready = unready
        self.clock = clock

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[errors_middleware])
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/api/v1/checks", self.checks)
        app.router.add_get("/api/v1/checks/{name}", self.one_check)
        return app

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        """Prometheus exposition: the per-series families, streamed in
        chunks as they are rendered, then the collector's own metrics."""
        response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
        await response.prepare(request)
        async for chunk in self.exposition.render():
            await response.write(chunk)
        await response.write(generate_latest(self.registry))
        await response.write_eof()
        return response

    async def healthz(self, _request: web.Request) -> web.Response:
        """Liveness: the process answers."""
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        """Readiness: serving, and the state store writing; else 503 with the reasons."""
        problems = self.unready()
        body = {"ready": not problems, "problems": problems}
        return web.json_response(body, status=503 if problems else 200)

    async def checks(self, _request: web.Request) -> web.Response:
        """Every check with its state per region."""
        now, config = self.clock(), self.config()
        body = {
            "config_version": config.version,
            "checks": [check_view(c, self.stats, now) for c in config.checks],
        }
        return web.json_response(body)

    async def one_check(self, request: web.Request) -> web.Response:
        """One check by name, or 404."""
        check = self.config().check(request.match_info["name"])
        if check is None:
            raise web.HTTPNotFound(text=f"no check named {request.match_info['name']!r}\n")
        return web.json_response(check_view(check, self.stats, self.clock()))
