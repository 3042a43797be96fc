"""A small demo target: a home page, /healthz and a slow route.

`python -m deploy.demo.target --listen 127.0.0.1:8080`. POST /admin/fail
with `{"fail": true}` makes every route answer 503, to watch an outage;
`{"fail": true, "path": "/r/x"}` fails one path only, and with `"hang": true`
it hangs instead of failing. POST /admin/hooks/<name>
prints a webhook notification, standing in for on-call. Any `/r/<name>` path
answers 200 like the home page, so benchmarks can give each check its own.
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
    state: dict[str, bool] = {"fail": False}
    failing_paths: set[str] = set()
    hanging_paths: set[str] = set()

    @web.middleware
    async def failing(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in hanging_paths:
            await asyncio.sleep(3600)  # a hung backend: the probe's timeout ends it
        broken = state["fail"] or request.path in failing_paths
        if broken and not request.path.startswith("/admin"):
            # A broken release still names itself, so incidents are attributed.
            response: web.StreamResponse = web.Response(status=503, text="switched to fail\n")
        else:
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
        body = await request.json()
        fail, path = bool(body.get("fail")), body.get("path")
        if path is not None and body.get("hang"):
            (hanging_paths.add if fail else hanging_paths.discard)(path)
        elif path is None:
            state["fail"] = fail
        elif fail:
            failing_paths.add(path)
        else:
            failing_paths.discard(path)
        return web.json_response({"fail": state["fail"], "failing": sorted(failing_paths)})

    async def hook(request: web.Request) -> web.Response:
        # Stands in for on-call in `make run`: prints each notification.
        body = await request.json()
        alerts = ", ".join(a["labels"].get("alertname", "?") for a in body.get("alerts", []))
        print(
            f"[{request.match_info['name']}] {body.get('status')}: {alerts}: "
            f"{body.get('summary', '')}",
            flush=True,
        )
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[failing])
    app.router.add_post("/admin/hooks/{name}", hook)
    app.router.add_get("/", home)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/slow", slow)
    app.router.add_get("/r/{name}", home)
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
