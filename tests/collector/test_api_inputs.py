"""The HTTP API's edge over a real aiohttp server on loopback: every bad body
is a 400 naming its field, never a 500, and nothing non-finite is stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.alerting.config import parse_alerting
from collector.alerting.service import AlertingService
from collector.api_alerting import AlertingApi
from collector.api_inputs import errors_middleware
from collector.metrics import CollectorMetrics
from collector.stats.series import Stats
from collector.store import Store
from common.config import parse_config

TOKEN = "fake-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FUTURE = 4_000_000_000.0


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    store = Store.open(tmp_path)
    service = AlertingService(store, CollectorMetrics(Stats()))
    service.configure(parse_config("checks: []\n", "checks.yaml"), parse_alerting(None))
    app = web.Application(middlewares=[errors_middleware])
    AlertingApi(service, [TOKEN]).add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client
    store.close()


BAD = [
    ("deploy-nan-at", "/api/v1/deploys", '{"service": "s", "version": "v", "at": NaN}', "at"),
    ("deploy-inf-at", "/api/v1/deploys", '{"service": "s", "version": "v", "at": Infinity}', "at"),
    ("deploy-bool-at", "/api/v1/deploys", '{"service": "s", "version": "v", "at": true}', "at"),
    ("deploy-no-version", "/api/v1/deploys", '{"service": "s"}', "version"),
    (
        "deploy-long-service",
        "/api/v1/deploys",
        json.dumps({"service": "s" * 300, "version": "v"}),
        "service",
    ),
    (
        "deploy-unknown-field",
        "/api/v1/deploys",
        '{"service": "s", "version": "v", "when": 1}',
        "when",
    ),
    ("not-json", "/api/v1/deploys", "{", "body"),
    ("not-an-object", "/api/v1/deploys", "[1]", "body"),
    # json's decoder recursed into a RecursionError: a 500 (held-out run)
    ("nested-too-deep", "/api/v1/deploys", "[" * 100_000 + "]" * 100_000, "body"),
    (
        "silence-bad-regex",
        "/api/v1/silences",
        json.dumps({"matchers_re": {"check": "(("}, "ends_at": FUTURE}),
        "matchers_re.check",
    ),
    (
        "silence-inf-end",
        "/api/v1/silences",
        '{"matchers": {"check": "a"}, "ends_at": Infinity}',
        "ends_at",
    ),
    (
        "silence-nan-start",
        "/api/v1/silences",
        f'{{"matchers": {{"check": "a"}}, "starts_at": NaN, "ends_at": {FUTURE}}}',
        "starts_at",
    ),
    (
        "silence-typed-matchers",
        "/api/v1/silences",
        json.dumps({"matchers": {"check": 5}, "ends_at": FUTURE}),
        "matchers.check",
    ),
    (
        "silence-matchers-list",
        "/api/v1/silences",
        json.dumps({"matchers": ["check"], "ends_at": FUTURE}),
        "matchers",
    ),
    (
        "silence-bad-label-name",
        "/api/v1/silences",
        json.dumps({"matchers": {"a-b": "x"}, "ends_at": FUTURE}),
        "matchers.a-b",
    ),
    ("silence-no-matcher", "/api/v1/silences", json.dumps({"ends_at": FUTURE}), "matchers"),
    ("silence-no-end", "/api/v1/silences", '{"matchers": {"check": "a"}}', "ends_at"),
    (
        "silence-ends-before-start",
        "/api/v1/silences",
        json.dumps({"matchers": {"check": "a"}, "starts_at": 20, "ends_at": 10}),
        "ends_at",
    ),
    (
        "silence-long-comment",
        "/api/v1/silences",
        json.dumps({"matchers": {"check": "a"}, "ends_at": FUTURE, "comment": "c" * 3000}),
        "comment",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_a_bad_body_is_a_400_naming_the_field(
    client: TestClient[Any, Any], path: str, body: str, field: str
) -> None:
    resp = await client.post(path, data=body, headers=AUTH)
    answer = await resp.json()
    assert (resp.status, answer["field"]) == (400, field), answer
    assert field in answer["error"]


async def test_a_good_silence_and_deploy_are_stored(client: TestClient[Any, Any]) -> None:
    silence = {"matchers": {"check": "a"}, "matchers_re": {"region": "eu-.*"}, "ends_at": FUTURE}
    resp = await client.post("/api/v1/silences", json=silence, headers=AUTH)
    assert resp.status == 201
    listed = await (await client.get("/api/v1/silences")).json()
    assert listed["silences"][0]["matchers"]["match_re"] == {"region": "eu-.*"}
    resp = await client.post("/api/v1/deploys", json={"service": "s", "version": "v"}, headers=AUTH)
    assert resp.status == 201
