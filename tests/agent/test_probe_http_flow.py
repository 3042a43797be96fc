"""The login flow against a real portal: login, dashboard, one action."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import structlog
import yaml

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.http_client import new_session
from agent.probes.http_flow import probe
from agent.runner import log_result
from common import logs
from common.config import ConfigError, parse_config
from common.config.http_flow import HttpFlowCheck
from tests.agent.portal import PASSWORD
from vantage.v1 import vantage_pb2 as pb


def flow(base: str) -> dict[str, Any]:
    return {
        "name": "login",
        "type": "http_flow",
        "interval": "60s",
        "timeout": "5s",
        "steps": [
            {
                "name": "login",
                "method": "POST",
                "url": f"{base}/api/login",
                "json": {"user": "ops@example.com", "password": "${env:PORTAL_PASSWORD}"},
                "expect": {"status": [200]},
                "extract": {"token": {"json": "token"}},
            },
            {
                "name": "dashboard",
                "url": f"{base}/api/dashboard",
                "headers": {"Authorization": "Bearer ${token}"},
                "expect": {"status": [200], "json": [{"path": "length(items)", "gt": 0}]},
            },
            {
                "name": "create-report",
                "method": "POST",
                "url": f"{base}/api/reports",
                "bearer_token": "${token}",
                "expect": {"status": [201]},
            },
        ],
    }


async def run(base: str, password: str) -> pb.Result:
    check = HttpFlowCheck.model_validate(flow(base), context={"from_yaml": True})
    ctx = ProbeContext(
        "agent-1", "eu-west", env={"PORTAL_PASSWORD": password}, session_factory=new_session
    )
    try:
        return await probe(check, ctx)
    finally:
        await ctx.close()


async def test_flow_logs_in_loads_dashboard_and_acts(portal: str) -> None:
    r = await run(portal, PASSWORD)
    assert r.success, r.message
    assert [(s.name, s.success, s.status_code) for s in r.flow.steps] == [
        ("login", True, 200),
        ("dashboard", True, 200),
        ("create-report", True, 201),
    ]
    assert all(s.duration_seconds > 0 and s.phases.HasField("processing") for s in r.flow.steps)
    assert "dashboard.json.length(items)" in {a.name for a in r.assertions}


async def test_wrong_password_fails_at_step_one_with_a_clear_reason(portal: str) -> None:
    r = await run(portal, "wrong-password")
    assert not r.success
    assert r.reason == pb.FAILURE_REASON_HTTP_STATUS
    assert r.message == "step 'login': status 401, want 200"
    assert [(s.name, s.success) for s in r.flow.steps] == [("login", False)]


async def test_secrets_and_tokens_never_reach_logs_or_results(portal: str) -> None:
    out = io.StringIO()
    logs.setup("test", json=True)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))
    r = await run(portal, PASSWORD)
    log_result(r)
    structlog.get_logger("test").info("probe.debug", result=str(r), password=PASSWORD)
    structlog.reset_defaults()
    text = out.getvalue()
    assert "probe.completed" in text
    assert PASSWORD not in text and "[REDACTED]" in text
    wire = r.SerializeToString()
    assert PASSWORD.encode() not in wire
    for line in text.splitlines():
        record = json.loads(line)
        assert PASSWORD not in json.dumps(record)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [{"name": "a", "url": "http://x/${token}"}],
            "step 'a' uses ${token} before any step extracts it",
        ),
        (
            [{"name": "a", "url": "http://x/"}, {"name": "a", "url": "http://x/"}],
            "steps[1]: duplicate step name 'a'",
        ),
        (
            [{"name": "a", "url": "http://x/", "extract": {"t": {"json": "a", "header": "b"}}}],
            "give exactly one of json, header or regex",
        ),
        ([], "steps: list at least one step"),
    ],
    ids=["undefined-variable", "duplicate-step", "two-sources", "no-steps"],
)
def test_flow_config_errors(steps: list[dict[str, Any]], message: str) -> None:
    text = yaml.safe_dump({"checks": [{"name": "f", "type": "http_flow", "steps": steps}]})
    with pytest.raises(ConfigError) as info:
        parse_config(text, "checks.yaml")
    assert any(message in p for p in info.value.problems), info.value.problems
