"""A small aiohttp portal for redirect, assertion and flow tests: login with
a password, a session cookie, a dashboard and one authenticated action."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

PASSWORD = "correct horse battery staple"


def portal_app() -> web.Application:
    """The portal: /api/login, /api/dashboard, /api/reports and redirect routes."""
    sessions: dict[str, str] = {}

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("password") != PASSWORD:
            return web.json_response({"error": "bad credentials"}, status=401)
        token = secrets.token_hex(16)
        sessions[token] = body["user"]
        response = web.json_response({"token": token, "user": body["user"]})
        response.set_cookie("sid", token)
        return response

    def user(request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        if token != request.cookies.get("sid"):
            return None  # both the bearer token and the session cookie are needed
        return sessions.get(token)

    async def dashboard(request: web.Request) -> web.Response:
        who = user(request)
        if who is None:
            return web.json_response({"error": "login first"}, status=403)
        return web.json_response({"user": who, "items": [1, 2, 3], "status": "ok"})

    async def report(request: web.Request) -> web.Response:
        if user(request) is None:
            return web.json_response({"error": "login first"}, status=403)
        return web.json_response({"created": True, "id": "r-1"}, status=201)

    async def home(_request: web.Request) -> web.Response:
        headers = {"Strict-Transport-Security": "max-age=63072000", "X-Release": "v1.4.2"}
        return web.Response(text="<h1>Welcome</h1>", content_type="text/html", headers=headers)

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(text="<h1>Welcome, slowly</h1>", content_type="text/html")

    def redirect(to: str, status: int = 301) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(status=status, headers={"Location": to})

        return handler

    app = web.Application()
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/dashboard", dashboard)
    app.router.add_post("/api/reports", report)
    app.router.add_get("/www/", home)
    app.router.add_get("/slow", slow)
    app.router.add_get("/apex/", redirect("/www/"))
    app.router.add_get("/old/", redirect("/apex/", 302))
    app.router.add_get("/loop-a", redirect("/loop-b"))
    app.router.add_get("/loop-b", redirect("/loop-a"))
    for i in range(12):
        app.router.add_get(f"/hop/{i}", redirect(f"/hop/{i + 1}", 302))
    return app


def main() -> None:
    """Run the portal on its own: `python -m tests.agent.portal HOST:PORT [CERT KEY]`."""
    import ssl  # noqa: PLC0415
    import sys  # noqa: PLC0415

    host, _, port = sys.argv[1].rpartition(":")
    context = None
    if len(sys.argv) > 3:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
    web.run_app(
        portal_app(), host=host, port=int(port), print=None, access_log=None, ssl_context=context
    )


if __name__ == "__main__":
    main()
