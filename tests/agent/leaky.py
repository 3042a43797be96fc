"""A target that hands every secret it receives back in as many spellings
as it can: echoed headers (raw, base64), JSON bodies (escaped), redirects
whose Location carries the secret percent-encoded (`%20` and `+` forms),
and a token endpoint whose value a flow extracts. The secrets test runs
probes against it and searches every output for every spelling."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from aiohttp import web

TOKEN = "tok-9f8e7d6c5b4a3921"
"""What /token hands out; a flow extracts it, so it is a secret too."""


async def echo(request: web.Request) -> web.Response:
    """Echo the Authorization header and the `pw` query value back."""
    pw = request.query.get("pw", "")
    headers = {
        "X-Echo-Auth": request.headers.get("Authorization", ""),
        "X-Echo-Pw": pw,
        "X-Echo-Pw-B64": base64.b64encode(pw.encode()).decode(),
    }
    body = json.dumps(
        {
            "echo": pw,
            "auth": request.headers.get("Authorization", ""),
            "pw": request.headers.get("X-Pw", ""),
        }
    )
    return web.Response(text=body, headers=headers, content_type="application/json")


async def bounce(request: web.Request) -> web.Response:
    """Redirect twice, carrying `pw` percent-encoded: `+` form, then `%20`."""
    pw = request.query.get("pw", "")
    if request.query.get("hop") == "2":
        raise web.HTTPFound(f"/echo?pw={quote(pw, safe='')}")
    raise web.HTTPFound(f"/bounce?hop=2&pw={quote_plus(pw, safe='')}")


async def token(_request: web.Request) -> web.Response:
    """A login that returns a token."""
    return web.json_response({"token": TOKEN})


def leaky_app() -> web.Application:
    """The app, for serve_app."""
    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/bounce", bounce)
    app.router.add_post("/token", token)
    return app
