"""The one redactor: every secret value, in every spelling it can take, is
replaced by `[REDACTED]` in every output.

Secrets are registered with `redact()` (resolved `${env:...}` values,
extracted flow variables, basic-auth headers, agent and receiver tokens).
`scrub()` is applied to every rendered log line (`common.logs`), to every string of a
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
from urllib.parse import unquote

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
_loose: set[str] = set()
_pattern: re.Pattern[str] | None = None
_encoded: re.Pattern[str] | None = None
_decoded: re.Pattern[str] | None = None
epoch = 0
"""Bumped when the registry is emptied (`forget_all`): what was computed
while secrets were registered (a prepared request) is redone after."""
_gate = re.compile(r"[%+\\]")
"""What an escaped spelling must contain; a space too once a secret holds
a `+`, which a target reads as a space in a query and may echo so."""


def redact(secret: str) -> None:
    """Never show `secret`, in any of its spellings, from now on."""
    global _pattern, _encoded, _decoded, _gate  # noqa: PLW0603  # the registry is process-wide by design
    if len(secret) < _MIN_LENGTH or secret in _secrets:
        return
    _secrets.add(secret)
    _spellings.update(s for s in spellings(secret) if len(s) >= _MIN_LENGTH)
    if not set(secret) <= _UNRESERVED:  # else its usual encoded form is itself
        _percent.add(percent_pattern(secret))
        _loose.add(_plus_blind(secret))
        if "+" in secret:
            _gate = re.compile(r"[%+\\ ]")
        _decoded = re.compile(trie_pattern(_loose))
    # A trie of the fixed spellings: at most positions the regex rejects
    # on one character class, where a plain alternation would try every
    # spelling (that cost 60 us per result with 20 secrets; now a few).
    _pattern = re.compile(trie_pattern(_spellings))
    _encoded = re.compile("|".join(sorted(_percent))) if _percent else None


def trie_pattern(words: Iterable[str]) -> str:
    """One regex matching any of `words`, factored by common prefixes; a
    longer word wins over its own prefix, so a spelling is replaced whole."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_regex(trie)


def _trie_regex(node: dict[str, Any]) -> str:
    ends = "" in node
    branches = [re.escape(char) + _trie_regex(child) for char, child in node.items() if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{body})?" if ends else body


def percent_pattern(secret: str) -> str:
    """A regex for `secret` escaped any way a client, server or JSON
    encoder may write it: each character raw, as %XX (either hex case) or
    as a JSON `\\uXXXX`; a space also as `+`, and `/`, `"` and `\\` as
    their JSON short escapes (PHP writes `\\/`). URL libraries differ in
    what they leave unencoded (yarl keeps `/` and `@` raw in a query), so
    no fixed spelling is enough."""
    parts = []
    for char in secret:
        alternatives = [re.escape(char), "".join(_hex(byte) for byte in char.encode())]
        if ord(char) < 0x10000:
            alternatives.append(r"\\u" + "".join(_case_blind(d) for d in f"{ord(char):04X}"))
        if char == " ":
            alternatives.append(r"\+")
        elif char == "+":  # a raw + in a query is a space to the server, which may echo it
            alternatives += [" ", "%20"]
        if char in _SHORT_ESCAPES:
            alternatives.append(re.escape("\\" + char))
        parts.append(f"(?:{'|'.join(alternatives)})")
    return "".join(parts)


_SHORT_ESCAPES = frozenset('/"\\')
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|([/\"\\]))")


def _case_blind(digit: str) -> str:
    return f"[{digit}{digit.lower()}]" if digit.isalpha() else digit


def _hex(byte: int) -> str:
    return "%" + "".join(_case_blind(d) for d in f"{byte:02X}")


def spellings(secret: str) -> set[str]:
    """Every fixed form of `secret` an output may carry (percent-encoded
    forms, which vary, are matched by `percent_pattern`)."""
    raw = secret.encode()
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {html.escape(secret), html.escape(secret, quote=False)}
    forms.add(repr(secret)[1:-1])  # as a log line shows it inside a list or an object's repr
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
    text = _pattern.sub(REDACTED, text)
    if _encoded is not None and _encoded_inside(text):
        text = _encoded.sub(REDACTED, text)
    return text


def _plus_blind(text: str) -> str:
    # `+` is a space in a query and itself elsewhere, and a server may
    # write one secret with both (yarl sends ` ` as `+` and keeps a `+`
    # as `%2B`, which the target decodes and echoes raw in a Location):
    # no single decoding gives the secret back, so compare with `+` and
    # space made the same on both sides.
    return text.replace("+", " ")


def _encoded_inside(text: str) -> bool:
    # Decoding and searching the fixed spellings is much cheaper than the
    # percent patterns; only a hit pays for them.
    if _decoded is None or not _gate.search(text):
        return False
    unescaped = _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)) if m[1] else m[2], text)
    return _decoded.search(_plus_blind(unquote(unescaped))) is not None


def _found(text: str) -> bool:
    assert _pattern is not None
    return _pattern.search(text) is not None or _encoded_inside(text)


def scrub_result(message: Message) -> None:
    """Scrub every string field of a protobuf message, nested ones too, in
    place. Results are scrubbed whole, so a new field cannot leak.

    One search over the serialized message first: a string field's text
    stands whole in it, so when nothing matches (almost every result) the
    walk over the fields, which costs tens of microseconds, is skipped."""
    if _pattern is None:
        return
    if not _found(message.SerializeToString().decode("utf-8", errors="replace")):
        return
    _scrub_fields(message)


def _scrub_fields(message: Message) -> None:
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
        _scrub_fields(value)
    elif hasattr(value, "items"):  # a map: scrub string values, nested messages
        for key, item in list(value.items()):
            if isinstance(item, str):
                value[key] = scrub(item)
            else:
                _scrub_fields(item)
    elif repeated:
        for item in value:
            _scrub_fields(item)


def forget_all() -> None:
    """Drop every registered secret (tests only)."""
    global _pattern, _encoded, _decoded, _gate, epoch  # noqa: PLW0603
    epoch += 1
    _secrets.clear()
    _spellings.clear()
    _percent.clear()
    _loose.clear()
    _pattern = _encoded = _decoded = None
    _gate = re.compile(r"[%+\\]")
