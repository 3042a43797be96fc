"""No secret leaks, in any spelling, through any output.

Known secrets (env values, the basic-auth header they make, a token a flow
extracts) go through every probe type against a target that echoes them
back raw, base64-encoded, percent-encoded and JSON-escaped. Every output a
person or a machine reads is then searched for every spelling: the agent's
log lines, the results as streamed, the smoke table, JUnit XML, the smoke
JSON, and the collector's API view of the last result.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote_plus

import pytest
import structlog
from structlog.testing import LogCapture

from agent import runner
from agent.probe_kit.base import ProbeContext
from agent.probe_kit.http_client import new_session
from agent.runner import log_result, run_probe
from cli.junit import write_junit
from cli.smoke import to_json
from cli.table import render_table
from collector.api import _last_view
from collector.server import sample_of
from common import logs
from common.config.registry import CHECK_TYPES
from common.redaction import REDACTED
from tests.agent.conftest import ServeApp, serve_app
from tests.agent.leaky import TOKEN, leaky_app

pytestmark = pytest.mark.integration

PASSWORD = 'hunter2 "pa$$w0rd"'
"""Fake; sent in headers, where its quotes come back JSON-escaped."""
URL_SECRET = "s3cr3t/pa th@x"  # pragma: allowlist secret  (fake)
"""Fake; sent in a URL, where its space, / and @ come back percent-encoded."""
API_KEY = "key-0123456789abcdef"  # pragma: allowlist secret  (fake)
USER = "monitor"
LITERAL_BEARER = "lit-bearer-7c1e5a"  # pragma: allowlist secret  (fake)
LITERAL_URL_PW = "lit-url-pw-3b9d"  # pragma: allowlist secret  (fake)
"""Fakes written in the config itself, not through ${env:...}: still secrets."""
ENV = {"SMOKE_PASSWORD": PASSWORD, "SMOKE_URL_SECRET": URL_SECRET, "SMOKE_API_KEY": API_KEY}


def spellings(secret: str) -> dict[str, str]:
    """Each encoding a secret can take on its way out."""
    forms = {
        "raw": secret,
        "base64": base64.b64encode(secret.encode()).decode().rstrip("="),
        "percent %20": quote(secret, safe=""),
        "percent +": quote_plus(secret, safe=""),
        "json": json.dumps(secret)[1:-1],
    }
    if secret == PASSWORD:
        forms["base64 user:pass"] = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    return forms


def checks(base: str, tmp_path: Path) -> list[dict[str, object]]:
    """One check per way a secret can come back, every assertion wrong on
    purpose so each failure message shows what the target sent."""
    pw = "${env:SMOKE_URL_SECRET}"
    auth = {"username": USER, "password": "${env:SMOKE_PASSWORD}"}
    wrong_headers = dict.fromkeys(("x-echo-auth", "x-echo-pw", "x-echo-pw-b64"), "nope")
    return [
        {
            "name": "basic-auth-echo",
            "type": "http",
            "url": f"{base}/echo?pw={pw}",
            "basic_auth": auth,
            "headers": {"X-Pw": "${env:SMOKE_PASSWORD}"},
            "expect": {
                "headers": wrong_headers,
                "json": [{"path": p, "equals": "x"} for p in ("echo", "auth", "pw")],
            },
        },
        {
            "name": "redirects",
            "type": "http",
            "url": f"{base}/bounce?pw={pw}",
            "headers": {"X-Api-Key": "${env:SMOKE_API_KEY}"},
            "redirects": {"expect_chain": [{"status": 301}], "expect_final_url": f"{base}/x"},
        },
        {
            "name": "literal-bearer",
            "type": "http",
            "url": f"{base}/echo",
            "bearer_token": LITERAL_BEARER,
            "expect": {"headers": wrong_headers},
        },
        {
            "name": "literal-userinfo",
            "type": "http",
            "url": f"{base}/bounce?pw=x".replace("//", f"//{USER}:{LITERAL_URL_PW}@", 1),
            "redirects": {"expect_final_url": f"{base}/x"},
            "expect": {"headers": wrong_headers},
        },
        {
            "name": "bad-url",
            "type": "http",
            "url": "http://${env:SMOKE_PASSWORD}.invalid/",
        },
        {
            "name": "flow",
            "type": "http_flow",
            "steps": [
                {"name": "login", "method": "POST", "url": f"{base}/token", "extract": {
                    "token": {"json": "token"}}},
                {"name": "use", "url": f"{base}/bounce?pw=${{token}}", "bearer_token": "${token}",
                 "expect": {"headers": wrong_headers, "json": [{"path": "auth", "equals": "x"}]}},
            ],
        },
    ]  # fmt: skip


__all__ = ["serve_app"]  # the fixture, shared with the agent tests


async def test_no_secret_in_any_output(
    serve_app: ServeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner's logger, capturing every event whatever an earlier
    # logs.setup() configured (its level, its cached loggers).
    capture = LogCapture()
    logger = structlog.wrap_logger(
        None, processors=[capture], wrapper_class=structlog.make_filtering_bound_logger(0)
    )
    monkeypatch.setattr(runner, "log", logger)
    base = await serve_app(leaky_app())
    models = [
        CHECK_TYPES[str(c["type"])].model_validate({"timeout": 5, **c})
        for c in checks(base, tmp_path)
    ]
    ctx = ProbeContext("agent-1", "eu", env=ENV, session_factory=new_session)
    results = [await run_probe(check, ctx) for check in models]
    for result in results:
        log_result(result)
    events = capture.entries
    render = logs.Redacting(logs.render_json)
    await ctx.close()
    junit = tmp_path / "junit.xml"
    write_junit(results, models, junit)
    outputs = {
        "results": "\n".join(str(r) for r in results),
        # As logs.setup renders them: JSON lines, scrubbed as rendered.
        "log lines": "\n".join(render(None, "", e) for e in events),
        "smoke table": render_table(results),
        "junit": junit.read_text(),
        "smoke json": to_json(results, models),
        "api": json.dumps([_last_view(sample_of(r, "agent-1", "eu")) for r in results]),
    }
    assert events, "no log line captured"
    assert all(not r.success for r in results)  # every check showed what it got back
    # Percent-decoding each output finds the secret however a library
    # chose to encode it (yarl leaves / and @ raw in a query, for one).
    decoded = {f"{where} (percent-decoded)": unquote_plus(text) for where, text in outputs.items()}
    leaks = [
        f"{secret!r} as {form} in {where}"
        for secret in (PASSWORD, URL_SECRET, API_KEY, TOKEN, LITERAL_BEARER, LITERAL_URL_PW)
        for form, spelled in spellings(secret).items()
        for where, text in (outputs | decoded).items()
        if spelled in text
    ]
    assert leaks == []
    # The secrets were there to find: each output shows where they were cut.
    assert {where: REDACTED in text for where, text in outputs.items()} == dict.fromkeys(
        outputs, True
    )
