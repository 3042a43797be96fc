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
        body = await _json(request)
        service, version = body.get("service"), body.get("version")
        if (
            not isinstance(service, str)
            or not isinstance(version, str)
            or not service
            or not version
        ):
            return _problem(400, "body needs string fields 'service' and 'version'")
        at = body.get("at", time.time())
        if not isinstance(at, int | float):
            return _problem(400, "'at' must be unix seconds")
        self.service.record_deploy(service, version, float(at))
        log.info("deploy.recorded", service=service, version=version, at=at)
        return web.json_response({"service": service, "version": version, "at": at}, status=201)

    async def silence(self, request: web.Request) -> web.Response:
        """Add `{matchers: {label: value}, matchers_re?, starts_at?, ends_at, comment?}`."""
        body = await _json(request)
        try:
            silence = _silence(body)
        except (KeyError, TypeError, ValueError) as exc:
            return _problem(400, f"bad silence: {exc}")
        added = self.service.add_silence(silence)
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


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON\n") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object\n")
    return body


def _silence(body: dict[str, Any]) -> Silence:
    matchers = Matchers.from_dict(
        {"match": body.get("matchers", {}), "match_re": body.get("matchers_re", {})}
    )
    if not matchers.equal and not matchers.regex:
        raise ValueError("give at least one matcher")
    starts = float(body.get("starts_at", time.time()))
    ends = float(body["ends_at"])
    if ends <= starts:
        raise ValueError("ends_at must be after starts_at")
    return Silence(
        matchers, starts, ends, str(body.get("comment", "")), str(body.get("created_by", ""))
    )
