"""Verdicts that must not be false: whole bodies judged (and decoded with
their charset), every value of a repeated header, URLs and addresses
compared by meaning, certificate facts on every https result, a malformed
Location named as the target's protocol error."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from multidict import CIMultiDict

from agent.probe_kit.base import ProbeContext
from agent.probe_kit.http_client import new_session
from agent.probe_kit.http_expect import Answer, BodyScan
from agent.probes.dns import probe as dns_probe
from agent.probes.http import probe
from common.config.dns import DnsCheck
from common.config.http import HttpCheck, normalise_url
from tests.agent.conftest import ServeApp
from tests.agent.faulty import DNS_ZONE, faulty_servers
from vantage.v1 import vantage_pb2 as pb

pytestmark = pytest.mark.integration

MIB = 1 << 20


def app() -> web.Application:
    async def big(_request: web.Request) -> web.Response:
        # The secret that must not be there sits past the old 1 MiB cut.
        return web.Response(text="a" * (2 * MIB) + "DEBUG-TRACE")

    async def latin1(_request: web.Request) -> web.Response:
        body = "Café crème".encode("iso-8859-1")
        return web.Response(body=body, headers={"Content-Type": "text/plain; charset=iso-8859-1"})

    async def cookies(_request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        response.set_cookie("sid", "1", secure=True, httponly=True)
        response.set_cookie("tracking", "2")
        return response

    async def relative(_request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/Landing")

    async def malformed(_request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "http://[::1/x"})

    async def landing(_request: web.Request) -> web.Response:
        return web.Response(text="here")

    a = web.Application()
    for path, handler in (
        ("/big", big),
        ("/latin1", latin1),
        ("/cookies", cookies),
        ("/relative", relative),
        ("/malformed", malformed),
        ("/Landing", landing),
        ("/", landing),
    ):
        a.router.add_get(path, handler)
    return a


@pytest.fixture
async def target(serve_app: ServeApp) -> str:
    return await serve_app(app())


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    c = ProbeContext("agent-1", "eu", env={}, session_factory=new_session)
    yield c
    await c.close()


def check(url: str, **kw: Any) -> HttpCheck:
    return HttpCheck(name="c", url=url, timeout=5, **kw)


def failed(result: pb.Result) -> dict[str, str]:
    return {a.name: a.message for a in result.assertions if not a.ok}


async def test_body_not_contains_sees_past_one_mib(target: str, ctx: ProbeContext) -> None:
    r = await probe(check(f"{target}/big", expect={"body_not_contains": "DEBUG-TRACE"}), ctx)
    assert failed(r) == {"body.not_contains": "found 'DEBUG-TRACE'"}
    fine = await probe(check(f"{target}/big", expect={"body_contains": "DEBUG-TRACE"}), ctx)
    assert fine.success, fine.message


async def test_body_over_the_limit_never_passes(target: str, ctx: ProbeContext) -> None:
    limited = check(f"{target}/big", max_body_bytes=MIB, expect={"body_not_contains": "DEBUG"})
    r = await probe(limited, ctx)
    assert r.reason == pb.FAILURE_REASON_BODY_TOO_LARGE
    assert r.message == f"body larger than max_body_bytes ({MIB} bytes): not judged"


async def test_body_is_decoded_with_its_charset(target: str, ctx: ProbeContext) -> None:
    r = await probe(check(f"{target}/latin1", expect={"body_contains": "Café crème"}), ctx)
    assert r.success, r.message


@pytest.mark.parametrize(
    ("match", "ok"), [(None, False), ("all", False), ("any", True)], ids=["default", "all", "any"]
)
async def test_every_set_cookie_is_judged(
    target: str, ctx: ProbeContext, match: str | None, ok: bool
) -> None:
    rule: dict[str, Any] = {"contains": "Secure"} | ({"match": match} if match else {})
    r = await probe(check(f"{target}/cookies", expect={"headers": {"Set-Cookie": rule}}), ctx)
    assert r.success is ok, r.message
    if not ok:
        assert failed(r) == {
            "header.set-cookie": "1 of 2 values fail ('tracking=2; Path=/'),"
            " want all containing 'Secure'"
        }


async def test_urls_compare_by_meaning(target: str, ctx: ProbeContext) -> None:
    upper = target.replace("http://", "HTTP://")
    r = await probe(
        check(
            f"{target}/relative",
            redirects={
                "expect_chain": [{"status": 301, "location": f"{upper}/Landing"}],
                "expect_final_url": f"{upper}/Landing",
            },
        ),
        ctx,
    )
    assert r.success, r.message
    bare = await probe(check(target, redirects={"expect_final_url": f"{target}/"}), ctx)
    assert bare.success, bare.message
    wrong = await probe(check(target, redirects={"expect_final_url": f"{target}/x"}), ctx)
    assert failed(wrong) == {"redirects.final_url": f"ended at {target}, want {target}/x"}


async def test_malformed_location_is_a_protocol_error(target: str, ctx: ProbeContext) -> None:
    r = await probe(check(f"{target}/malformed"), ctx)
    assert r.reason == pb.FAILURE_REASON_PROTOCOL_ERROR
    assert r.message.startswith("malformed Location 'http://[::1/x'")


async def test_small_https_body_carries_certificate_facts(
    serve_app: ServeApp, ctx: ProbeContext, tmp_path: Path
) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    base = await serve_app(app(), ssl_context=context)
    r = await probe(check(f"{base}/", ca_file=str(ca_file)), ctx)  # a 4-byte body
    assert r.success, r.message
    assert r.tls.not_after > 0 and r.tls.sans == ["127.0.0.1"]


async def test_aaaa_answers_compare_as_addresses(tmp_path: Path) -> None:
    async with faulty_servers(tmp_path) as servers:
        server = f"{servers.dns[0]}:{servers.dns[1]}"
        same = DnsCheck(
            name="v6",
            query_name=f"ok.{DNS_ZONE}",
            record="AAAA",
            server=server,
            expect={"answers_equal": ["2001:DB8:0:0::1"]},
        )
        r = await dns_probe(same, ProbeContext("a", "r"))
        assert r.success, r.message
        other = same.model_copy(update={"expect": same.expect.model_copy(
            update={"answers_equal": ("2001:db8::2",)})})  # fmt: skip
        r = await dns_probe(other, ProbeContext("a", "r"))
        assert failed(r) == {"dns.answers_equal": "got 2001:db8::1, want 2001:db8::2"}


@pytest.mark.parametrize(
    ("url", "base", "normal"),
    [
        ("HTTP://Example.COM", None, "http://example.com/"),
        ("https://example.com:443/a?b=1", None, "https://example.com/a?b=1"),
        ("http://example.com:8080", None, "http://example.com:8080/"),
        ("/next", "https://example.com:443/a/b", "https://example.com/next"),
        ("c", "http://example.com/a/b", "http://example.com/a/c"),
        ("http://[::1]:80/", None, "http://[::1]/"),
    ],
    ids=["case-and-empty-path", "default-port", "other-port", "absolute-path", "relative", "ipv6"],
)
def test_normalise_url(url: str, base: str | None, normal: str) -> None:
    assert normalise_url(url, base) == normal


@pytest.mark.parametrize(
    ("chunks", "found"),
    [
        ([b"abc", b"def"], {"cd"}),  # a needle across two chunks
        ([b"caf\xc3", b"\xa9 ok"], {"café"}),  # a character split across chunks
        ([b"x" * 10, b"needle"], {"needle"}),
        ([b"nothing here"], set()),
    ],
    ids=["straddles", "split-utf8", "late", "absent"],
)
def test_body_scan_searches_the_stream(chunks: list[bytes], found: set[str]) -> None:
    scan = BodyScan(("cd", "café", "needle"))
    scan.start("utf-8")
    for chunk in chunks:
        scan.feed(chunk)
    scan.feed(b"", final=True)
    assert scan.found == found


_META_LATIN1 = b'<html><head><meta charset="iso-8859-1"></head><body>\xfcberlauf</body>'
_EQUIV_1252 = b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">5\x80'


@pytest.mark.parametrize(
    ("charset", "body", "needle"),
    [
        (None, "ERROR: disk full".encode("utf-16"), "ERROR"),  # a BOM without a charset
        ("utf-8", "ERROR: disk full".encode("utf-16"), "ERROR"),  # the BOM beats the header
        ("iso-8859-1", "\ufeffüberlauf".encode(), "überlauf"),
        (None, _META_LATIN1, "überlauf"),  # <meta charset> only
        (None, _EQUIV_1252, "5€"),  # <meta http-equiv> only
        ("iso-8859-1", "5€".encode("cp1252"), "5€"),  # browsers read latin1 as windows-1252
        ("no-such-charset", b"plain", "plain"),
        (None, b'<?xml version="1.0" encoding="iso-8859-1"?><a>\xfcberlauf</a>', "\xfcberlauf"),
    ],
    ids=[
        "bom-utf16",
        "bom-beats-header",
        "bom-utf8",
        "meta",
        "meta-equiv",
        "latin1-is-1252",
        "unknown",
        "xml-declaration",
    ],
)
def test_body_is_decoded_as_a_browser_reads_it(
    charset: str | None, body: bytes, needle: str
) -> None:
    # Held-out false passes: body_not_contains never saw these needles.
    scan = BodyScan((needle,))
    scan.start(charset)
    for i in range(0, len(body), 7):  # the codec is chosen before the 1 KiB prefix is whole
        scan.feed(body[i : i + 7])
    scan.feed(b"", final=True)
    assert scan.found == {needle}
    assert needle in Answer(200, CIMultiDict(), body, "http://x/", 0.0, charset=charset).text
