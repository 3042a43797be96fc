"""HTTP routes for alerting: heartbeat pings, deploys, silences, incidents.

Writes need a bearer token from VANTAGE_API_TOKENS; pings carry their own
secret token in the path, which is never logged.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web

from collector import api_inputs as inputs
from collector.alerting.heartbeats import PingKind
from collector.alerting.service import AlertingService
from collector.alerting.silences import Matchers, Silence
from common.auth import bearer_ok

log = structlog.get_logger("collector.api")

_MAX_PING_BODY = 10_000
_KINDS: dict[str, PingKind] = {"": "success", "start": "start", "fail": "fail"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class AlertingApi:
    """Routes that reach the alerting service."""

    def __init__(self, service: AlertingService, api_tokens: Sequence[str]) -> None:
        self.service = service
        self.tokens = list(api_tokens)

    def add_routes(self, app: web.Application) -> None:
        """Register every route on `app`."""
        r = app.router
        for method in ("GET", "POST"):
            r.add_route(method, "/ping/{token}", self.ping)
            r.add_route(method, "/ping/{token}/{kind}", self.ping)
        r.add_get("/api/v1/heartbeats", self.heartbeats)
        r.add_post("/api/v1/heartbeats/{name}/token", self.protected(self.token))
        r.add_post("/api/v1/deploys", self.protected(self.deploy))
        r.add_get("/api/v1/silences", self.silences)
        r.add_post("/api/v1/silences", self.protected(self.silence))
        r.add_delete("/api/v1/silences/{id}", self.protected(self.unsilence))
        r.add_get("/api/v1/incidents", self.incidents)
        r.add_get("/api/v1/alerts", self.alerts)

    def protected(self, handler: Handler) -> Handler:
        """Wrap `handler` so it needs `Authorization: Bearer <api token>`."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            if not self.tokens:
                return _problem(403, "writes are disabled: set VANTAGE_API_TOKENS on the collector")
            if not bearer_ok(request.headers.get("Authorization"), self.tokens):
                return _problem(401, "missing or wrong API token")
            return await handler(request)

        return guarded

    async def ping(self, request: web.Request) -> web.Response:
        """/ping/<token>[/start|/fail] from a background job."""
        kind = _KINDS.get(request.match_info.get("kind", ""))
        if kind is None:
            return _problem(404, "use /ping/<token>, /ping/<token>/start or /ping/<token>/fail")
        body = (await request.content.read(_MAX_PING_BODY)).decode("utf-8", errors="replace")
        name = self.service.ping(request.match_info["token"], kind, body.strip()[:200])
        if name is None:
            return _problem(404, "unknown heartbeat token")  # same answer for every bad token
        log.info("heartbeat.ping", check=name, kind=kind)
        return web.json_response({"check": name, "kind": kind})

    async def token(self, request: web.Request) -> web.Response:
        """Show a heartbeat's ping token once; `?rotate=1` issues a new one."""
        name = request.match_info["name"]
        rotate = request.query.get("rotate") in ("1", "true")
        try:
            token = self.service.issue_token(name, rotate)
        except KeyError:
            return _problem(404, f"no heartbeat check named {name!r}")
        if token is None:
            return _problem(409, "the token was shown already; POST ?rotate=1 for a new one")
        return web.json_response({"check": name, "token": token, "ping_url": f"/ping/{token}"})

    async def heartbeats(self, _request: web.Request) -> web.Response:
        """Every heartbeat with its deadline and state (never a token)."""
        return web.json_response({"heartbeats": self.service.heartbeats.status(time.time())})

    async def deploy(self, request: web.Request) -> web.Response:
        """Record `{service, version, at?}`."""
        body = await inputs.json_object(request, ("service", "version", "at"))
        service, version = inputs.string(body, "service"), inputs.string(body, "version")
        at = inputs.unix_time(body, "at", time.time())
        self.service.record_deploy(service, version, at)
        log.info("deploy.recorded", service=service, version=version, at=at)
        return web.json_response({"service": service, "version": version, "at": at}, status=201)

    async def silence(self, request: web.Request) -> web.Response:
        """Add `{matchers: {label: value}, matchers_re?, starts_at?, ends_at, comment?}`."""
        body = await inputs.json_object(request, _SILENCE_FIELDS)
        added = self.service.add_silence(_silence(body))
        log.info("silence.added", id=added.id, matchers=added.matchers.to_dict())
        return web.json_response(added.to_dict(), status=201)

    async def unsilence(self, request: web.Request) -> web.Response:
        """End a silence now."""
        if not self.service.expire_silence(request.match_info["id"]):
            return _problem(404, "no such silence")
        return web.json_response({"expired": request.match_info["id"]})

    async def silences(self, _request: web.Request) -> web.Response:
        """Every silence."""
        d = self.service.dispatcher
        rows = [s.to_dict() for s in d.silences.silences()] if d else []
        return web.json_response({"silences": rows})

    async def incidents(self, request: web.Request) -> web.Response:
        """Incidents, newest first (`?open=1` for open ones)."""
        open_only = request.query.get("open") in ("1", "true")
        return web.json_response({"incidents": self.service.store.list_incidents(100, open_only)})

    async def alerts(self, _request: web.Request) -> web.Response:
        """Firing alerts."""
        return web.json_response({"alerts": self.service.alerts_view()})


_SILENCE_FIELDS = ("matchers", "matchers_re", "starts_at", "ends_at", "comment", "created_by")


def _silence(body: dict[str, Any]) -> Silence:
    matchers = Matchers(inputs.labels(body, "matchers"), inputs.regexes(body, "matchers_re"))
    if not matchers.equal and not matchers.regex:
        raise inputs.BadInput("matchers", "give at least one matcher")
    starts = inputs.unix_time(body, "starts_at", time.time())
    ends = inputs.unix_time(body, "ends_at")
    if ends <= starts:
        raise inputs.BadInput("ends_at", "must be after starts_at")
    comment = inputs.string(body, "comment", inputs.MAX_TEXT, default="")
    return Silence(matchers, starts, ends, comment, inputs.string(body, "created_by", default=""))
