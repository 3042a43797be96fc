"""Strict input parsing for the HTTP API: every request body is checked at
the edge, and every refusal is a 400 that names the field.

- numbers are finite (no NaN or Infinity: JSON from Python allows them) and
  unix times fall in a sane range;
- strings, label maps and regexes have bounded sizes;
- regexes are compiled here, so a bad one is a 400 with the regex error;
- unknown fields are refused, so a typo is not silently ignored.

`errors_middleware` turns anything a handler did not expect into a JSON 500
with one log line: no request produces a traceback in a response.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger("collector.api")

MAX_STRING = 256
"""Characters in a string field (a service, a version, a label value, a regex)."""
MAX_TEXT = 2000
"""Characters in a free-text field (a silence's comment)."""
MAX_LABELS = 32
"""Entries in a matcher map."""
MIN_TIME, MAX_TIME = 0.0, 1e11
"""Unix seconds a time field may hold (1970 to the year 5138)."""
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BadInput(Exception):
    """A request field is invalid; answered as 400 `{error, field}`."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why

    def response(self) -> web.Response:
        """The 400 answer."""
        return web.json_response({"error": str(self), "field": self.field}, status=400)


async def json_object(request: web.Request, allowed: Iterable[str]) -> dict[str, Any]:
    """The request's JSON object body, with no field outside `allowed`."""
    try:
        body = await request.json()
    except ValueError:
        raise BadInput("body", "must be JSON") from None
    except RecursionError:  # json's C decoder recurses once per [ or {
        raise BadInput("body", "must be JSON nested at most a few levels deep") from None
    if not isinstance(body, dict):
        raise BadInput("body", "must be a JSON object")
    known = list(allowed)
    for key in body:
        if key not in known:
            raise BadInput(str(key)[:MAX_STRING], f"unknown field; known: {', '.join(known)}")
    return body


def string(
    body: dict[str, Any], name: str, limit: int = MAX_STRING, default: str | None = None
) -> str:
    """A non-empty string field of at most `limit` characters (`default` if absent)."""
    value = body.get(name, default)
    if value is None:
        raise BadInput(name, "is required")
    if not isinstance(value, str) or (not value and default is None):
        raise BadInput(name, "must be a non-empty string")
    if len(value) > limit:
        raise BadInput(name, f"is {len(value)} characters, over the maximum of {limit}")
    return value


def unix_time(body: dict[str, Any], name: str, default: float | None = None) -> float:
    """A finite unix time in seconds (`default` if absent)."""
    value = body.get(name, default)
    if value is None:
        raise BadInput(name, "is required (unix seconds)")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(name, "must be a number of unix seconds")
    if not math.isfinite(value) or not MIN_TIME <= value <= MAX_TIME:
        raise BadInput(name, f"{value!r} is not a unix time in seconds")
    return float(value)


def labels(body: dict[str, Any], name: str) -> dict[str, str]:
    """A map of label name to string value (typed and bounded)."""
    value = body.get(name, {})
    if not isinstance(value, dict):
        raise BadInput(name, "must be an object of label: value")
    if len(value) > MAX_LABELS:
        raise BadInput(name, f"has {len(value)} entries, over the maximum of {MAX_LABELS}")
    for key, item in value.items():
        if not _LABEL_NAME.match(key) or len(key) > MAX_STRING:
            raise BadInput(f"{name}.{key[:MAX_STRING]}", "is not a label name")
        if not isinstance(item, str):
            raise BadInput(f"{name}.{key}", "must be a string")
        if len(item) > MAX_STRING:
            raise BadInput(f"{name}.{key}", f"is over the maximum of {MAX_STRING} characters")
    return value


def regexes(body: dict[str, Any], name: str) -> dict[str, re.Pattern[str]]:
    """A map of label name to regex, each compiled here."""
    out = {}
    for key, text in labels(body, name).items():
        try:
            out[key] = re.compile(text)
        except re.error as exc:
            raise BadInput(f"{name}.{key}", f"bad regular expression {text!r}: {exc}") from None
    return out


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """BadInput as 400 naming the field; anything unexpected as a JSON 500
    and one log line, never a traceback in the answer."""
    try:
        return await handler(request)
    except BadInput as exc:
        return exc.response()
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001  # the edge answers every request
        log.error("api.failed", path=request.path, error=repr(exc)[:500])
        return web.json_response({"error": "internal error; see the collector's log"}, status=500)
