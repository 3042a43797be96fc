"""The `http_flow` probe: ordered steps in one cookie jar, the canonical
smoke test being log in, load the dashboard, do one authenticated action.

A failure names its step. Extracted values are secrets: they are redacted
from logs, messages and assertions like `${env:...}` values.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import jmespath

from agent.probe_kit.base import ProbeContext, fail, new_result, set_phases
from agent.probe_kit.cookies import CookieJar
from agent.probe_kit.faults import Failure
from agent.probe_kit.http_client import (
    Fetched,
    conclude,
    fetch,
    new_session,
    prepare,
)
from agent.probe_kit.http_client import classify as classify_http
from agent.probe_kit.http_expect import judge
from agent.probe_kit.http_request import Tls
from agent.probe_kit.http_wire import Session
from common.config.http_flow import Extract, FlowStep, HttpFlowCheck
from common.reasons import FailureReason
from common.template import Expander
from vantage.v1 import vantage_pb2 as pb


class ExtractFailed(Exception):
    """A step's answer lacked a value the flow needs."""


def classify(exc: BaseException) -> Failure:
    """The error mapper: a missing extracted value is an assertion; the rest
    as in `http`, by the shared table."""
    if isinstance(exc, ExtractFailed):
        return FailureReason.ASSERTION, str(exc)
    return classify_http(exc)


async def probe(check: HttpFlowCheck, ctx: ProbeContext) -> pb.Result:
    """Run every step in order; stop at the first failure."""
    result = new_result(check, ctx)
    started = time.perf_counter()
    expander = Expander(ctx.env)
    tls = Tls(check.ca_file, not check.insecure_skip_verify)
    # A jar per run: steps share cookies, runs never do.
    session = new_session(nameserver=ctx.nameserver, cookie_jar=CookieJar())
    run = _Run(session, expander, tls, result)
    for step in check.steps:
        remaining = check.timeout - (time.perf_counter() - started)
        record = result.flow.steps.add(name=step.name)
        failure = await _run_step(step, run, remaining, record)
        if failure is not None:
            reason, message = failure
            record.reason, record.message = reason.to_proto(), message[:300]
            fail(result, reason, f"step {step.name!r}: {message}")
            break
        record.success = True
    else:
        result.success = True
    result.duration_seconds = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class _Run:
    """What every step of one flow run shares."""

    session: Session
    expander: Expander
    tls: Tls
    result: pb.Result


async def _run_step(
    step: FlowStep, run: _Run, remaining: float, record: pb.FlowStep
) -> tuple[FailureReason, str] | None:
    started = time.perf_counter()
    result, expander = run.result, run.expander
    try:
        if remaining <= 0:
            raise TimeoutError
        fetched = await fetch(run.session, prepare(step, expander), remaining, run.tls)
        _record_step(record, result, fetched)
        failure = conclude(
            judge(step.expect, step.redirects, fetched.answer), result, f"{step.name}."
        )
        if failure is None:
            _extract_all(step, fetched, expander)
        return failure
    except Exception as exc:  # noqa: BLE001  # every failure becomes data, see classify()
        return classify(exc)
    finally:
        record.duration_seconds = time.perf_counter() - started


def _record_step(record: pb.FlowStep, result: pb.Result, fetched: Fetched) -> None:
    record.status_code = fetched.answer.status
    set_phases(record.phases, fetched.phases)
    set_phases(result.phases, fetched.phases, add=True)
    result.request_id = fetched.request_id


def _extract_all(step: FlowStep, fetched: Fetched, expander: Expander) -> None:
    for name, source in step.extract.items():
        expander.set(name, _extract(name, source, fetched))


def _extract(name: str, source: Extract, fetched: Fetched) -> str:
    answer = fetched.answer
    if source.header is not None:
        value = answer.headers.get(source.header)
        where = f"header {source.header}"
    elif source.json_ is not None:
        try:
            found = jmespath.search(source.json_, json.loads(answer.body))
        except ValueError:
            found = None
        value = None if found is None else found if isinstance(found, str) else json.dumps(found)
        where = f"JSON path {source.json_!r}"
    else:
        assert source.regex is not None
        match = re.search(source.regex, answer.text)
        value = (match.group(1) if match.groups() else match.group(0)) if match else None
        where = f"regex /{source.regex}/"
    if not value:
        raise ExtractFailed(f"extract {name}: nothing at {where}")
    return value
