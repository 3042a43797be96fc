"""The HTTP probe against real servers on loopback."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from pathlib import Path

import pytest
import trustme
import uvloop
from aiohttp import web

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.faults import ProtocolViolation
from agent.probe_kit.http_client import RedirectLoop, new_session
from agent.probe_kit.http_phases import ConnectFailed, LookupFailed, PhaseClock
from agent.probe_kit.http_request import Tls
from agent.probe_kit.http_request import target as split_url
from agent.probe_kit.http_wire import BodyReader
from agent.probe_kit.resolve import Address, as_address
from agent.probes.http import classify, probe
from common.config.http import HttpCheck
from common.reasons import FailureReason
from common.wire import phases_of
from tests.agent.conftest import ServeApp
from tests.support.net import free_port
from vantage.v1 import vantage_pb2 as pb

seen_headers: list[dict[str, str]] = []


def app() -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        seen_headers.append(dict(request.headers))
        return web.Response(text="hello", headers={"X-Release": "v1.4.2"})

    async def big(_request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 500_000)

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def broken(_request: web.Request) -> web.Response:
        return web.Response(status=500)

    a = web.Application()
    a.router.add_get("/", ok)
    a.router.add_get("/big", big)
    a.router.add_get("/slow", slow)
    a.router.add_get("/broken", broken)
    return a


@pytest.fixture
async def target(serve_app: ServeApp) -> str:
    return await serve_app(app())


def check(url: str, **kw: object) -> HttpCheck:
    return HttpCheck.model_validate(
        {"name": "home", "url": url, "interval": 60, "timeout": 1, **kw}
    )


async def test_success_records_phases_status_release_and_ids(
    target: str, ctx: ProbeContext
) -> None:
    seen_headers.clear()
    r = await probe(check(target + "/", release_header="X-Release"), ctx)
    assert r.success, r.message
    assert r.reason == pb.FAILURE_REASON_UNSPECIFIED
    assert r.http.status_code == 200 and r.http.body_bytes == 5
    assert r.release == "v1.4.2"
    assert set(phases_of(r.phases)) == {"connect", "tls", "processing", "transfer"}
    assert r.phases.tls == 0.0 and r.phases.HasField("tls")
    assert 0 < sum(phases_of(r.phases).values()) <= r.duration_seconds
    sent = seen_headers[-1]
    assert sent["X-Request-ID"] == r.request_id and re.fullmatch(r"[0-9a-f]{32}", r.request_id)
    assert re.fullmatch(rf"00-{r.request_id}-[0-9a-f]{{16}}-01", sent["traceparent"])


async def test_each_probe_opens_a_fresh_connection(target: str, ctx: ProbeContext) -> None:
    seen_headers.clear()
    await probe(check(target + "/"), ctx)
    await probe(check(target + "/"), ctx)
    assert all(h.get("Connection") == "close" for h in seen_headers)


async def test_unexpected_status_fails_with_http_status(target: str, ctx: ProbeContext) -> None:
    r = await probe(check(target + "/broken"), ctx)
    assert not r.success
    assert r.reason == pb.FAILURE_REASON_HTTP_STATUS
    assert r.message == "status 500, want 2xx"


async def test_expected_status_list(target: str, ctx: ProbeContext) -> None:
    r = await probe(check(target + "/broken", expect={"status": [500]}), ctx)
    assert r.success


async def test_body_over_the_limit_fails_and_names_it(target: str, ctx: ProbeContext) -> None:
    r = await probe(check(target + "/big", max_body_bytes=1000), ctx)
    assert r.reason == pb.FAILURE_REASON_BODY_TOO_LARGE
    assert "1000 bytes" in r.message


async def test_no_limit_reads_the_whole_body(target: str, ctx: ProbeContext) -> None:
    r = await probe(check(target + "/big", max_body_bytes=0), ctx)
    assert r.success and r.http.body_bytes > 1000


async def test_refused_connection(ctx: ProbeContext) -> None:
    r = await probe(check(f"http://127.0.0.1:{free_port()}/"), ctx)
    assert r.reason == pb.FAILURE_REASON_CONNECT_REFUSED
    assert "127.0.0.1" in r.message


def test_on_uvloop_as_in_the_agent() -> None:
    """The agent runs on uvloop, which connects plain-HTTP probes itself."""

    async def run() -> tuple[pb.Result, pb.Result]:
        runner = web.AppRunner(app(), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ctx = ProbeContext("agent-1", "eu-west", env={}, session_factory=new_session)
        try:
            ok = await probe(check(f"http://127.0.0.1:{port}/"), ctx)
            refused = await probe(check(f"http://127.0.0.1:{free_port()}/"), ctx)
        finally:
            await ctx.close()
            await runner.cleanup()
        return ok, refused

    ok, refused = uvloop.run(run())
    assert ok.success, ok.message
    assert set(phases_of(ok.phases)) == {"connect", "tls", "processing", "transfer"}
    assert refused.reason == pb.FAILURE_REASON_CONNECT_REFUSED
    assert refused.message.startswith("connect to 127.0.0.1:")


async def test_timeout(target: str, ctx: ProbeContext) -> None:
    r = await probe(check(target + "/slow"), ctx)
    assert r.reason == pb.FAILURE_REASON_TIMEOUT
    assert 0.9 < r.duration_seconds < 1.9


async def test_https_verifies_against_ca_file_and_records_tls_phase(
    ctx: ProbeContext, tmp_path: Path, serve_app: ServeApp
) -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    url = await serve_app(app(), server_ctx) + "/"
    untrusted = await probe(check(url), ctx)
    trusted = await probe(check(url, ca_file=str(ca_file)), ctx)
    skipped = await probe(check(url, insecure_skip_verify=True), ctx)
    assert untrusted.reason == pb.FAILURE_REASON_TLS_VERIFY
    assert "certificate verify failed" in untrusted.message
    assert trusted.success, trusted.message
    assert trusted.phases.tls > 0
    assert skipped.success


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (
            ConnectFailed("h", 80, ConnectionRefusedError(111, "refused")),
            FailureReason.CONNECT_REFUSED,
        ),
        (
            LookupFailed(
                "nope.invalid", socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            ),
            FailureReason.DNS_NXDOMAIN,
        ),
        (
            LookupFailed("h", socket.gaierror(socket.EAI_AGAIN, "Temporary failure")),
            FailureReason.DNS_ERROR,  # glibc's EAI_AGAIN is refused, failed or silent
        ),
        (TimeoutError(), FailureReason.TIMEOUT),
        (ProtocolViolation("server disconnected"), FailureReason.PROTOCOL_ERROR),
        (RedirectLoop("redirect loop: a -> b -> a"), FailureReason.REDIRECT_LOOP),
        (ValueError("bug"), FailureReason.INTERNAL),
    ],
    ids=["refused", "nxdomain", "dns-again", "timeout", "disconnected", "loop", "internal"],
)
def test_classify_maps_library_errors(exc: BaseException, reason: FailureReason) -> None:
    assert classify(exc)[0] is reason


async def test_ip_version_pins_the_address_family(target: str, ctx: ProbeContext) -> None:
    v4 = await probe(check(target + "/", ip_version=4), ctx)
    assert v4.success, v4.message
    assert v4.http.status_code == 200


def test_ip_version_that_cannot_reach_a_literal_address_is_a_config_error() -> None:
    with pytest.raises(
        ValueError, match=re.escape("ip_version 6 cannot reach 127.0.0.1, an IPv4 address")
    ):
        check("http://127.0.0.1:1/", ip_version=6)


class _SlowResolver:
    """Answers every name with 127.0.0.1 after `delay`: a name lookup
    without the system resolver."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def resolve(self, host: str, port: int, family: int) -> list[Address]:
        await asyncio.sleep(self.delay)
        return [as_address("127.0.0.1", port)]


async def test_connect_phase_excludes_the_name_lookup(target: str) -> None:
    port = int(target.rsplit(":", 1)[1].strip("/"))
    clock = PhaseClock(tls=False)
    session = new_session(resolver=_SlowResolver(0.2))
    where = split_url(f"http://target.test:{port}/")
    reader = BodyReader(limit=0, keep=True)
    response = await session.send("GET", where, {}, None, tls=Tls(), clock=clock, reader=reader)
    assert response.status == 200 and response.body == b"hello"
    phases = clock.phases()
    assert phases["resolve"] >= 0.2
    assert phases["connect"] < 0.1  # loopback: the 0.2 s lookup is not in it
