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
from urllib.parse import quote, quote_plus

from google.protobuf.message import Message

REDACTED = "[REDACTED]"
_MIN_LENGTH = 4
"""Shorter values would scrub ordinary words."""
_MIN_BASE64 = 6
"""Shortest base64 core worth matching: shorter ones match by chance."""

_secrets: set[str] = set()
_spellings: set[str] = set()
_pattern: re.Pattern[str] | None = None


def redact(secret: str) -> None:
    """Never show `secret`, in any of its spellings, from now on."""
    global _pattern  # noqa: PLW0603  # the registry is process-wide by design
    if len(secret) < _MIN_LENGTH or secret in _secrets:
        return
    _secrets.add(secret)
    _spellings.update(s for s in spellings(secret) if len(s) >= _MIN_LENGTH)
    # Longest first, so a spelling that contains another is replaced whole.
    ordered = sorted(_spellings, key=len, reverse=True)
    _pattern = re.compile("|".join(map(re.escape, ordered)))


def spellings(secret: str) -> set[str]:
    """Every form of `secret` that an output may carry."""
    raw = secret.encode()
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {html.escape(secret), html.escape(secret, quote=False)}
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)):
        forms |= {encoded, _lower_hex(encoded)}
    forms |= set(_base64_cores(raw))
    return forms


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


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
