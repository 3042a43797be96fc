"""The agent's own small HTTP server: `/` (a page for a human), `/healthz`
(alive), `/readyz` (a config and a live stream to every collector) and
`/metrics`."""

from __future__ import annotations

import asyncio
import html
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp.web_exceptions import HTTPMethodNotAllowed, HTTPNotFound
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import Response, StreamResponse, json_response
from aiohttp.web_server import Server

from common import __version__
from common.addresses import listen_address
from common.exposition import CONTENT_TYPE

if TYPE_CHECKING:
    from agent.main import Agent

log = structlog.get_logger("agent")

_METHODS = ("GET", "HEAD")
_SHUTDOWN_TIMEOUT = 60.0
"""Seconds open requests get to finish at exit (web.AppRunner's default)."""


def readiness(agent: Agent) -> dict[str, Any]:
    """What /readyz and / show: ready means every collector's stream is
    live and has sent a config."""
    collectors = []
    for stream in agent.streams:
        applied = agent.applied.get(stream.collector)
        collectors.append(
            {
                "address": stream.collector,
                "connected": stream.connected,
                "config": applied.source if applied else "none",
                "config_version": applied.version if applied else None,
                "spooled_results": len(stream.spool),
                "last_error": stream.last_error or None,
            }
        )
    sources = {c["config"] for c in collectors}
    warnings = [w for w in (agent.idle_warning,) if w]
    if "saved" in sources:
        warnings.append("running on a saved config: a collector is unreachable")
    if agent.shedding:
        warnings.append("shedding runs: this agent cannot keep up with its checks")
    return {
        "ready": all(c["connected"] and c["config"] == "collector" for c in collectors),
        "agent": agent.settings.agent_id,
        "region": agent.settings.region,
        "config": "saved" if "saved" in sources else ("collector" if agent.applied else "none"),
        "checks": len(agent.scheduler.entries),
        "shedding": agent.shedding,
        "collectors": collectors,
        "warnings": warnings,
    }


async def health(agent: Agent) -> Response:
    """/healthz: the process is alive (its loop answers)."""
    body = {
        "status": "ok",
        "agent": agent.settings.agent_id,
        "region": agent.settings.region,
        "collector_connected": all(s.connected for s in agent.streams),
        "checks": len(agent.scheduler.entries),
        "spooled_results": sum(len(s.spool) for s in agent.streams),
    }
    return json_response(body)


async def ready(agent: Agent) -> Response:
    """/readyz: 200 with a config and live streams, 503 otherwise."""
    body = readiness(agent)
    return json_response(body, status=200 if body["ready"] else 503)


async def metrics_page(agent: Agent) -> Response:
    """/metrics in the Prometheus text format."""
    agent.update_gauges()
    return Response(body=agent.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10">
<title>Vantage agent {agent}</title>
<style>body{{font:15px system-ui,sans-serif;margin:1.5rem;max-width:60rem}}
td,th{{padding:.2rem .8rem;text-align:left}} .up{{color:#197a33}} .down{{color:#b3261e}}</style>
</head><body>
<h1>Vantage agent <code>{agent}</code></h1>
<p>Region <b>{region}</b> · version {version} · {checks} checks · config: {config} ·
<span class="{state_class}">{state}</span></p>
<table><tr><th>collector</th><th>connection</th><th>config</th><th>spooled</th>
<th>last error</th></tr>
{rows}</table>
{warnings}
<p><a href="/metrics">/metrics</a> · <a href="/readyz">/readyz</a> ·
<a href="/healthz">/healthz</a></p>
</body></html>
"""


def render_root(agent: Agent) -> str:
    """The human page: who this agent is and how its streams are."""
    info, esc = readiness(agent), html.escape
    rows = "".join(
        f"<tr><td><code>{esc(c['address'])}</code></td>"
        f'<td class="{"up" if c["connected"] else "down"}">'
        f"{'connected' if c['connected'] else 'disconnected'}</td>"
        f"<td>{esc(c['config'])} {esc(c['config_version'] or '')}</td>"
        f"<td>{c['spooled_results']}</td><td>{esc(c['last_error'] or '')}</td></tr>"
        for c in info["collectors"]
    )
    warnings = "".join(f'<p class="down">⚠ {esc(w)}</p>' for w in info["warnings"])
    return _PAGE.format(
        agent=esc(info["agent"]),
        region=esc(info["region"]),
        version=esc(__version__),
        checks=info["checks"],
        config=esc(info["config"]),
        state="ready" if info["ready"] else "not ready",
        state_class="up" if info["ready"] else "down",
        rows=rows,
        warnings=warnings,
    )


async def root(agent: Agent) -> Response:
    """/: the human page."""
    return Response(text=render_root(agent), content_type="text/html")


_PAGES = {"/": root, "/healthz": health, "/readyz": ready, "/metrics": metrics_page}


def handler(agent: Agent) -> Any:
    """A request handler routing as aiohttp's router would: GET (and HEAD)
    on the pages, 405 for another method, 404 elsewhere."""

    async def serve(request: BaseRequest) -> StreamResponse:
        page = _PAGES.get(request.path)
        if page is None:
            raise HTTPNotFound
        if request.method not in _METHODS:
            raise HTTPMethodNotAllowed(request.method, _METHODS)
        return await page(agent)

    return serve


async def start(agent: Agent) -> tuple[Server, asyncio.Server]:
    """Listen on --http-listen."""
    # aiohttp's low-level server: web.Application and its router would
    # cost 1.3 MB of RSS at import for a few pages.
    server = Server(handler(agent), access_log=None)
    host, port = listen_address(agent.settings.http_listen)
    listener = await asyncio.get_running_loop().create_server(server, host, port)
    log.info(
        "agent.started",
        agent=agent.settings.agent_id,
        region=agent.settings.region,
        collectors=list(agent.settings.collectors),
        http=agent.settings.http_listen,
    )
    return server, listener


async def stop(server: Server, listener: asyncio.Server) -> None:
    """Stop listening, then close connections (as web.AppRunner.cleanup does)."""
    listener.close()
    await asyncio.sleep(0)  # let requests that just arrived start
    server.pre_shutdown()
    await server.shutdown(_SHUTDOWN_TIMEOUT)
