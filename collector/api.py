"""The collector's HTTP side: /metrics, /healthz, /readyz and the JSON API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.model import Sample
from collector.stats.series import ALL, Series, Stats
from common.config import CheckBase, Config
from common.durations import format_duration
from common.redaction import scrub


def _window_view(series: Series, now: float) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for name in series.windows:
        window = series.window(name)
        view[name] = {
            "p95_seconds": window.p95(now),
            "error_ratio": window.error_ratio(now),
            "samples": window.samples(now),
        }
    return view


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
        series = stats.series.get((check.name, region))
        if series is None:
            regions[region] = {"last": None, "windows": {}}
            continue
        regions[region] = {"last": _last_view(series.last), "windows": _window_view(series, now)}
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
        ready: Callable[[], bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.stats = stats
        self.registry = registry
        self.ready = ready
        self.clock = clock

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/api/v1/checks", self.checks)
        app.router.add_get("/api/v1/checks/{name}", self.one_check)
        return app

    async def metrics(self, _request: web.Request) -> web.Response:
        """Prometheus exposition."""
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, _request: web.Request) -> web.Response:
        """Liveness: the process answers."""
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        """Readiness: config loaded and the gRPC server listening."""
        ok = self.ready()
        return web.json_response({"ready": ok}, status=200 if ok else 503)

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
