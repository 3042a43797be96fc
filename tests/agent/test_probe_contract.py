"""The probe contract: every registered probe type, against the same faulty
servers, reports the same reason for the same fault, the one that
common.faults.REASONS gives. A new probe type joins by adding its row to
tests/agent/contract_targets.py; a type without a row fails here."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from pathlib import Path

import pytest

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.http_client import new_session
from agent.probes import PROBES
from agent.runner import run_probe
from common.config.registry import CHECK_TYPES
from common.faults import REASONS
from common.reasons import FailureReason
from tests.agent.contract_targets import CONTRACT, TARGETS
from tests.agent.faulty import Faulty, faulty_servers

pytestmark = pytest.mark.integration

_TIMEOUT = 1.0
"""Hanging and silent servers cost one timeout each; all run at once."""


async def _reason(check_type: str, fault: str, servers: Faulty) -> tuple[str, str] | None:
    settings = TARGETS[check_type](fault, servers)
    if settings is None:
        return None
    check = CHECK_TYPES[check_type].model_validate(
        {"name": f"{check_type}-{fault}", "type": check_type, "timeout": _TIMEOUT, **settings}
    )
    ctx = ProbeContext(
        "contract", "lo", env={}, session_factory=new_session, nameserver=servers.dns
    )
    try:
        result = await run_probe(check, ctx)
    finally:
        await ctx.close()
    return FailureReason.from_proto(result.reason).value, result.message


def test_every_probe_type_has_a_contract_row() -> None:
    assert sorted(PROBES) == sorted(TARGETS)


def test_every_probe_has_the_one_error_mapper_shape() -> None:
    """`classify(exc)` in every probe module: one name, the exception first,
    anything else optional, (reason, message) back."""
    for check_type, path in PROBES.items():
        classify = importlib.import_module(path).classify
        params = list(inspect.signature(classify).parameters.values())
        assert params[0].name == "exc", check_type
        assert all(p.default is not p.empty for p in params[1:]), check_type
        reason, message = classify(ConnectionRefusedError(111, "Connection refused"))
        assert reason is FailureReason.CONNECT_REFUSED, (check_type, message)


async def test_every_probe_reports_each_fault_by_the_shared_table(tmp_path: Path) -> None:
    async with faulty_servers(tmp_path) as servers:
        cases = [(t, f) for t in sorted(TARGETS) for f in CONTRACT]
        got = await asyncio.gather(*(_reason(t, f, servers) for t, f in cases))
    ran = {case: found for case, found in zip(cases, got, strict=True) if found is not None}
    wrong = {
        f"{t}/{f}": f"{reason} ({message}), want {REASONS[CONTRACT[f]].value}"
        for (t, f), (reason, message) in ran.items()
        if reason != REASONS[CONTRACT[f]].value
    }
    assert wrong == {}, "\n".join(f"{k}: {v}" for k, v in sorted(wrong.items()))
    # Each fault reached at least the probes that can meet it.
    assert {f for _, f in ran} == set(CONTRACT)
    assert {t for t, _ in ran} == set(TARGETS)
