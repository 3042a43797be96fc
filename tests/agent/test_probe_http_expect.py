"""HTTP expectations and redirects against a real portal on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.http_client import new_session
from agent.probes.http import probe
from agent.runner import run_probe
from common.config.http import HttpCheck
from tests.agent.portal import PASSWORD
from vantage.v1 import vantage_pb2 as pb


def check(url: str, **kw: Any) -> HttpCheck:
    return HttpCheck.model_validate(
        {"name": "c", "url": url, "interval": "60s", "timeout": "2s", **kw},
        context={"from_yaml": True},
    )


def failed(result: pb.Result) -> dict[str, str]:
    return {a.name: a.message for a in result.assertions if not a.ok}


async def test_apex_to_www_chain_is_recorded_and_asserted(portal: str, ctx: ProbeContext) -> None:
    r = await probe(
        check(
            f"{portal}/old/",
            redirects={
                "expect_chain": [
                    {"status": 302, "location": "/apex/"},
                    {"status": 301, "location": "/www/"},
                ],
                "expect_final_url": f"{portal}/www/",
            },
            expect={
                "status": [200],
                "body_contains": "Welcome",
                "max_latency": "500ms",
                "headers": {"strict-transport-security": {"regex": r"max-age=\d+"}},
            },
        ),
        ctx,
    )
    assert r.success, r.message
    assert [(h.status, h.url, h.location) for h in r.http.redirects] == [
        (302, f"{portal}/old/", "/apex/"),
        (301, f"{portal}/apex/", "/www/"),
    ]
    assert r.http.final_url == f"{portal}/www/"
    assert {a.name for a in r.assertions} >= {
        "redirects.chain",
        "redirects.final_url",
        "header.strict-transport-security",
        "body.contains",
    }


async def test_wrong_chain_fails_with_the_chain_in_the_message(
    portal: str, ctx: ProbeContext
) -> None:
    r = await probe(
        check(
            f"{portal}/apex/",
            redirects={"expect_chain": [{"status": 301, "location": "https://www.example.com/"}]},
        ),
        ctx,
    )
    assert not r.success
    assert r.reason == pb.FAILURE_REASON_ASSERTION
    assert r.message == (  # Locations are shown as the URLs they lead to
        f"redirects.chain: chain ['301 {portal}/www/'], want ['301 https://www.example.com/']"
    )


async def test_not_following_redirects_judges_the_first_answer(
    portal: str, ctx: ProbeContext
) -> None:
    r = await probe(
        check(f"{portal}/apex/", redirects={"follow": False}, expect={"status": [301]}), ctx
    )
    assert r.success, r.message
    assert r.http.status_code == 301 and len(r.http.redirects) == 1


async def test_redirect_loop(portal: str, ctx: ProbeContext) -> None:
    r = await probe(check(f"{portal}/loop-a"), ctx)
    assert r.reason == pb.FAILURE_REASON_REDIRECT_LOOP
    assert r.message == f"redirect loop: {portal}/loop-a -> /loop-b -> /loop-a"


async def test_too_many_redirects(portal: str, ctx: ProbeContext) -> None:
    r = await probe(check(f"{portal}/hop/0", redirects={"max": 3}), ctx)
    assert r.reason == pb.FAILURE_REASON_REDIRECT_LOOP
    assert r.message.startswith(f"more than 3 redirects: {portal}/hop/0 -> /hop/1")


@pytest.mark.parametrize(
    ("expect", "failures"),
    [
        ({"headers": {"x-release": "v1.4.2", "x-powered-by": {"absent": True}}}, {}),
        ({"headers": {"x-release": "v2"}}, {"header.x-release": "'v1.4.2', want 'v2'"}),
        (
            {"headers": {"content-type": {"absent": True}}},
            {"header.content-type": "present: 'text/html; charset=utf-8'"},
        ),
        (
            {"headers": {"x-frame-options": {"equals": "DENY"}}},
            {"header.x-frame-options": "missing"},
        ),
        ({"body_not_contains": "Welcome"}, {"body.not_contains": "found 'Welcome'"}),
        ({"body_regex": "<h2>"}, {"body.regex": "no match for /<h2>/"}),
        ({"status": ["3xx"]}, {"http.status": "status 200, want 3xx"}),
    ],
    ids=[
        "headers-ok",
        "header-differs",
        "header-should-be-absent",
        "header-missing",
        "body-not-contains",
        "body-regex",
        "status-range",
    ],
)
async def test_expectations(
    portal: str, ctx: ProbeContext, expect: dict[str, Any], failures: dict[str, str]
) -> None:
    r = await probe(check(f"{portal}/www/", expect=expect), ctx)
    got = failed(r)
    assert set(got) == set(failures)
    for name, text in failures.items():
        assert got[name].startswith(text), got[name]
    assert r.success is (not failures)


async def test_max_latency(portal: str, ctx: ProbeContext) -> None:
    slow = await probe(check(f"{portal}/slow", expect={"max_latency": "20ms"}), ctx)
    assert slow.reason == pb.FAILURE_REASON_ASSERTION
    assert failed(slow)["http.max_latency"].endswith("ms > 20ms")
    ok = await probe(check(f"{portal}/slow", expect={"max_latency": "2s"}), ctx)
    assert ok.success, ok.message


async def test_json_paths_with_jmespath(portal: str, ctx: ProbeContext) -> None:
    login = await probe(
        check(
            f"{portal}/api/login",
            method="POST",
            json={"user": "ops@example.com", "password": "nope"},
            expect={
                "status": [401],
                "json": [
                    {"path": "error", "equals": "bad credentials"},
                    {"path": "length(error)", "gt": 3},
                ],
            },
        ),
        ctx,
    )
    assert login.success, login.message
    wrong = await probe(
        check(
            f"{portal}/api/login",
            method="POST",
            json={"password": "x"},
            expect={"status": [401], "json": [{"path": "error", "equals": "ok"}]},
        ),
        ctx,
    )
    assert failed(wrong) == {"json.error": "error = \"bad credentials\", want equals 'ok'"}


async def test_env_secret_is_sent_but_redacted(portal: str) -> None:
    c = ProbeContext("a", "r", env={"PORTAL_PASSWORD": PASSWORD}, session_factory=new_session)
    r = await run_probe(  # the runner redacts: what agents and smoke run
        check(
            f"{portal}/api/login",
            method="POST",
            json={"user": "ops", "password": "${env:PORTAL_PASSWORD}"},
            expect={"status": [200], "body_contains": PASSWORD},
        ),
        c,
    )
    await c.close()
    assert r.http.status_code == 200  # the server got the real password
    assert PASSWORD not in r.SerializeToString().decode(errors="replace")
    assert failed(r) == {"body.contains": "missing '[REDACTED]'"}


async def test_missing_env_var_is_a_config_failure(portal: str, ctx: ProbeContext) -> None:
    r = await probe(check(f"{portal}/www/", bearer_token="${env:NOPE_NOT_SET}"), ctx)
    assert r.reason == pb.FAILURE_REASON_CONFIG
    assert r.message == "environment variable NOPE_NOT_SET is not set on this agent"
