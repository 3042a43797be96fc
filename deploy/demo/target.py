"""A small demo target: a home page, /healthz and a slow route.

`python -m deploy.demo.target --listen 127.0.0.1:8080`. POST /admin/fail
with `{"fail": true}` makes every route answer 503, to watch an outage.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Awaitable, Callable

from aiohttp import web

RELEASE = "demo-1.0.0"


def make_app() -> web.Application:
    """The demo application."""
    state = {"fail": False}

    @web.middleware
    async def failing(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if state["fail"] and not request.path.startswith("/admin"):
            return web.Response(status=503, text="switched to fail\n")
        response = await handler(request)
        response.headers["X-Release"] = RELEASE
        return response

    async def home(_request: web.Request) -> web.Response:
        return web.Response(text="<h1>Welcome to the demo portal</h1>\n", content_type="text/html")

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(random.uniform(0.2, 0.6))  # noqa: S311  # jitter, not crypto
        return web.Response(text="a slow report\n")

    async def switch(request: web.Request) -> web.Response:
        state["fail"] = bool((await request.json()).get("fail"))
        return web.json_response(state)

    app = web.Application(middlewares=[failing])
    app.router.add_get("/", home)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/slow", slow)
    app.router.add_post("/admin/fail", switch)
    return app


def main() -> None:
    """Run the demo target."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--listen", default="127.0.0.1:8080")
    host, _, port = p.parse_args().listen.rpartition(":")
    web.run_app(make_app(), host=host, port=int(port), print=None, access_log=None)


if __name__ == "__main__":
    main()
