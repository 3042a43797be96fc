"""Fixtures for the agent tests: a knotd serving test zones, a probe
context, and aiohttp apps served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.http_client import new_session
from tests.agent.knot import knot
from tests.agent.portal import portal_app
from tests.support.net import free_port

__all__ = ["ctx", "knot", "portal", "serve_app"]

ServeApp = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve_app() -> AsyncIterator[ServeApp]:
    """Serve aiohttp apps on free loopback ports; returns a starter that
    yields each app's base URL. All stop at teardown."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application, ssl_context: object = None) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context).start()  # type: ignore[arg-type]
        scheme = "https" if ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def portal(serve_app: ServeApp) -> str:
    """The test portal (login, session, dashboard, redirects) on loopback."""
    return await serve_app(portal_app())


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    """A probe context with no environment, closed at teardown."""
    c = ProbeContext("agent-1", "eu-west", env={}, session_factory=new_session)
    yield c
    await c.close()
