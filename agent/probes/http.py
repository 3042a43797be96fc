"""The `http` probe: one request and its redirects, a fresh connection each
time, with blackbox_exporter's phase timings (resolve, connect, tls,
processing, transfer).

The client, shared with `http_flow`, lives in `agent.probe_kit.http_client`;
library exceptions become failure reasons in `classify` and nowhere else.
"""

from __future__ import annotations

import socket
import time

from agent.probe_kit.base import ProbeContext, fail, new_result, set_phases
from agent.probe_kit.faults import Failure
from agent.probe_kit.http_client import Fetched, conclude, fetch, prepared
from agent.probe_kit.http_client import classify as classify_http
from agent.probe_kit.http_expect import judge, reads_body, scan_for
from agent.probe_kit.http_request import Tls
from common.config.http import HttpCheck
from vantage.v1 import vantage_pb2 as pb

_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6, "any": socket.AF_UNSPEC}


def classify(exc: BaseException) -> Failure:
    """The error mapper: the client's, ssl and socket errors, by the shared table."""
    return classify_http(exc)


async def probe(check: HttpCheck, ctx: ProbeContext) -> pb.Result:
    """Request `check.url` (and its redirects) once and judge the answer."""
    result = new_result(check, ctx)
    started = time.perf_counter()
    try:
        req = prepared(check, ctx.env)
        tls = Tls(check.ca_file, not check.insecure_skip_verify)
        session = ctx.http(_FAMILIES[check.ip_version])
        keep, scan = reads_body(check.expect), scan_for(check.expect)
        fetched = await fetch(session, req, check.timeout, tls, keep_body=keep, scan=scan)
        _record(result, fetched, check.release_header)
        failure = conclude(judge(check.expect, check.redirects, fetched.answer), result)
        if failure is None:
            result.success = True
        else:
            fail(result, *failure)
    except Exception as exc:  # noqa: BLE001  # every failure becomes data, see classify()
        fail(result, *classify(exc))
    result.duration_seconds = time.perf_counter() - started
    return result


def _record(result: pb.Result, fetched: Fetched, release_header: str | None) -> None:
    answer = fetched.answer
    result.request_id = fetched.request_id
    set_phases(result.phases, fetched.phases)
    details = result.http
    details.status_code = answer.status
    details.final_url = answer.final_url
    details.body_bytes = fetched.body_bytes
    details.http_version = fetched.http_version
    details.peer_address = fetched.peer_address
    for hop in answer.chain:
        details.redirects.add(status=hop.status, url=hop.url, location=hop.location)
    if fetched.tls is not None:
        from agent.probe_kit.certs import record  # noqa: PLC0415  # cryptography: only for https

        record(result.tls, fetched.tls)
    if release_header:
        result.release = (answer.headers.get(release_header) or "")[:64]
