"""The redactor finds a secret in every spelling an output may carry."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from common import logs, redaction
from common.redaction import REDACTED, redact, scrub, scrub_result
from vantage.v1 import vantage_pb2 as pb

SECRET = 'p@ss w/rd "x"'  # fake


@pytest.fixture(autouse=True)
def registry() -> Iterator[None]:
    redaction.forget_all()
    redact(SECRET)
    yield
    redaction.forget_all()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "spelled",
    [
        SECRET,
        b64(SECRET),
        b64("user:" + SECRET),  # offset 2 mod 3
        b64("u:" + SECRET),  # offset 2
        b64("us:" + SECRET),  # offset 0
        base64.urlsafe_b64encode(("ab:" + SECRET).encode()).decode(),
        "p%40ss%20w%2Frd%20%22x%22",
        "p%40ss+w%2Frd+%22x%22",
        "p%40ss%20w/rd%20%22x%22",  # yarl leaves / raw in a query
        "p%40ss%20w%2frd%20%22x%22",  # lower-case hex
        json.dumps(SECRET)[1:-1],
        "p@ss w/rd &quot;x&quot;",
    ],
    ids=[
        "raw",
        "base64",
        "base64-user-pass",
        "base64-offset-2",
        "base64-offset-0",
        "base64-urlsafe",
        "percent-%20",
        "percent-plus",
        "percent-mixed",
        "percent-lower",
        "json",
        "html",
    ],
)
def test_every_spelling_is_redacted(spelled: str) -> None:
    scrubbed = scrub(f"before {spelled} after")
    assert REDACTED in scrubbed
    assert spelled not in scrubbed


def test_short_values_are_not_secrets() -> None:
    redact("abc")
    assert scrub("abc def") == "abc def"


def test_a_result_is_scrubbed_whole() -> None:
    result = pb.Result(message=f"got {SECRET}")
    result.assertions.add(name="header.x", message=f"'{b64(SECRET)}'")
    result.http.redirects.add(url="http://h/?pw=p%40ss+w%2Frd+%22x%22", location="/")
    result.tls.sans.extend(["ok.example", SECRET])
    scrub_result(result)
    assert SECRET not in str(result) and "p%40ss" not in str(result)
    assert result.tls.sans[0] == "ok.example"
    assert result.message == f"got {REDACTED}"


PLUS_SECRET = "s3cr3t P@ss/wd+x"  # fake: a space and a plus, which queries confuse


@pytest.mark.parametrize(
    "spelled",
    [
        "s3cr3t+P@ss/wd+x",  # yarl's query (` ` as +, + as %2B), decoded and echoed in a Location
        "s3cr3t+P%40ss%2fwd%2Bx",
        "s3cr3t P@ss\\/wd+x",  # PHP's json_encode
        "s3cr3t P@ss\\u002fwd+x",
        "s3cr3t P\\u0040ss/wd\\u002Bx",
        "s3cr3t%20P\\u0040ss%2Fwd+x",
        "s3cr3t P@ss/wd x",  # sent raw in a query, where the target read + as a space
    ],
    ids=[
        "plus-both-ways",
        "percent-lower",
        "json-slash",
        "json-u002f",
        "json-u-mixed",
        "mixed",
        "plus-read-as-space",
    ],
)
def test_mixed_escapes_are_redacted(spelled: str) -> None:
    # Held-out leak: a secret in a redirect hop came back as the first form.
    redact(PLUS_SECRET)
    assert scrub(f"x?token={spelled}&y") == f"x?token={REDACTED}&y"


class _Holder:
    """A value a log line renders by repr, not as a string."""

    def __repr__(self) -> str:
        return f"Holder(password={SECRET!r})"


@pytest.mark.parametrize(
    "renderer",
    [
        logs.render_json,
        structlog.processors.JSONRenderer(),
        structlog.dev.ConsoleRenderer(colors=False),
    ],
    ids=["json", "structlog-json", "console"],
)
@pytest.mark.parametrize(
    "value",
    [SECRET, {"nested": [SECRET]}, (1, SECRET), _Holder(), ValueError(f"bad {SECRET}")],
    ids=["string", "nested", "tuple", "repr", "exception"],
)
def test_a_log_line_is_scrubbed_as_rendered(renderer: Any, value: object) -> None:
    line = logs.Redacting(renderer)(None, "info", {"event": "x.y", "value": value})
    assert REDACTED in line
    assert "p@ss" not in line
