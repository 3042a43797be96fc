"""The one redactor: every secret value, in every spelling it can take, is
replaced by `[REDACTED]` in every output.

Secrets are registered with `redact()` (resolved `${env:...}` values,
extracted flow variables, basic-auth headers, agent and receiver tokens).
`scrub()` is applied to log events (`common.logs`), to every string of a
probe result before it leaves the probe runner (`scrub_result`), and so to
what the smoke table, JUnit, the API and notifications show.

A secret is also looked for as it appears after the encodings a probe or a
report applies: base64 (at any byte offset, so inside `base64(user:pass)`
too), percent-encoding (`%20` and `+` forms, either hex case), JSON
escaping, and XML/HTML escaping.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from typing import Any

from google.protobuf.message import Message

REDACTED = "[REDACTED]"
_MIN_LENGTH = 4
"""Shorter values would scrub ordinary words."""
_MIN_BASE64 = 6
"""Shortest base64 core worth matching: shorter ones match by chance."""

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

_secrets: set[str] = set()
_spellings: set[str] = set()
_percent: set[str] = set()
_pattern: re.Pattern[str] | None = None


def redact(secret: str) -> None:
    """Never show `secret`, in any of its spellings, from now on."""
    global _pattern  # noqa: PLW0603  # the registry is process-wide by design
    if len(secret) < _MIN_LENGTH or secret in _secrets:
        return
    _secrets.add(secret)
    _spellings.update(s for s in spellings(secret) if len(s) >= _MIN_LENGTH)
    _percent.add(percent_pattern(secret))
    # Longest first, so a spelling that contains another is replaced whole;
    # then every percent-encoded spelling.
    ordered = sorted(_spellings, key=len, reverse=True)
    _pattern = re.compile("|".join([*map(re.escape, ordered), *sorted(_percent)]))


def percent_pattern(secret: str) -> str:
    """A regex for `secret` percent-encoded any way a client or server may
    write it: each reserved character raw or as %XX (either hex case), a
    space also as `+`. URL libraries differ in what they leave unencoded
    (yarl keeps `/` and `@` raw in a query), so no fixed spelling is enough."""
    parts = []
    for char in secret:
        escaped = re.escape(char)
        if char in _UNRESERVED:
            parts.append(escaped)
            continue
        alternatives = [escaped, "".join(_hex(byte) for byte in char.encode())]
        if char == " ":
            alternatives.append(r"\+")
        parts.append(f"(?:{'|'.join(alternatives)})")
    return "".join(parts)


def _hex(byte: int) -> str:
    high, low = f"{byte >> 4:X}", f"{byte & 15:X}"
    return f"%[{high}{high.lower()}][{low}{low.lower()}]"


def spellings(secret: str) -> set[str]:
    """Every fixed form of `secret` an output may carry (percent-encoded
    forms, which vary, are matched by `percent_pattern`)."""
    raw = secret.encode()
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {html.escape(secret), html.escape(secret, quote=False)}
    forms |= set(_base64_cores(raw))
    return forms


def _base64_cores(raw: bytes) -> Iterable[str]:
    """The base64 characters that depend only on `raw`, for each of the
    three byte offsets it can start at inside a longer encoded value."""
    for offset in range(3):
        padded = b"\0" * offset + raw + b"\0" * 3
        encoded = base64.b64encode(padded).decode()
        first = -(-offset * 8 // 6)  # first char made of secret bits only
        last = (offset + len(raw)) * 8 // 6  # one past the last such char
        core = encoded[first:last]
        if len(core) >= _MIN_BASE64:
            yield core
            yield core.replace("+", "-").replace("/", "_")  # the URL-safe alphabet


def active() -> bool:
    """Whether any secret is registered (a fast path for hot callers)."""
    return _pattern is not None


def scrub(text: str) -> str:
    """`text` with every spelling of every registered secret replaced."""
    if _pattern is None or not text:
        return text
    return _pattern.sub(REDACTED, text)


def scrub_result(message: Message) -> None:
    """Scrub every string field of a protobuf message, nested ones too, in
    place. Results are scrubbed whole, so a new field cannot leak."""
    if _pattern is None:
        return
    for field, value in message.ListFields():
        if field.type == field.TYPE_STRING:
            if field.is_repeated:
                value[:] = [scrub(v) for v in value]
            else:
                setattr(message, field.name, scrub(value))
        elif field.type == field.TYPE_MESSAGE:
            _scrub_nested(value, field.is_repeated)


def _scrub_nested(value: Any, repeated: bool) -> None:
    if isinstance(value, Message):
        scrub_result(value)
    elif hasattr(value, "items"):  # a map: scrub string values, nested messages
        for key, item in list(value.items()):
            if isinstance(item, str):
                value[key] = scrub(item)
            else:
                scrub_result(item)
    elif repeated:
        for item in value:
            scrub_result(item)


def forget_all() -> None:
    """Drop every registered secret (tests only)."""
    global _pattern  # noqa: PLW0603
    _secrets.clear()
    _spellings.clear()
    _pattern = None
