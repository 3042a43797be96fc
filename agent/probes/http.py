"""The `http` probe: one request and its redirects, a fresh connection each
time, with blackbox_exporter's phase timings (resolve, connect, tls,
processing, transfer) from the clock in `http_phases`.

`fetch()` is shared with `http_flow` steps; library exceptions become
failure reasons in `classify()` and nowhere else.
"""

from __future__ import annotations

import functools
import socket
import ssl
import time
from dataclasses import dataclass
from random import getrandbits
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import aiohttp

from agent.probes.base import ProbeContext, fail, new_result, set_phases
from agent.probes.http_expect import Answer, Finding, Hop, judge
from agent.probes.http_phases import CLOCK, PhaseClock, PhaseConnector
from agent.probes.template import Expander, MissingValue
from common.config.http import HttpCheck, HttpRequest
from common.logs import scrub
from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb

if TYPE_CHECKING:
    from agent.probes.tls import Peer

_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6, "any": socket.AF_UNSPEC}


class RedirectLoop(Exception):
    """The redirects went round in a circle or past `redirects.max`."""


def new_session(
    family: int = socket.AF_UNSPEC, cookie_jar: aiohttp.abc.AbstractCookieJar | None = None
) -> aiohttp.ClientSession:
    """A session whose every request opens a fresh connection and lookup."""
    connector = PhaseConnector(
        force_close=True, use_dns_cache=False, limit=0, family=socket.AddressFamily(family)
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar() if cookie_jar is None else cookie_jar,
    )


@functools.lru_cache(maxsize=64)
def ssl_context(ca_file: str | None, verify: bool = True) -> ssl.SSLContext | bool:
    """The TLS settings for a request: system store, a CA file, or no checks.

    Cached: building a context and loading a CA bundle costs milliseconds.
    """
    if not verify:
        return False
    return ssl.create_default_context(cafile=ca_file) if ca_file else True


@dataclass(frozen=True)
class Prepared:
    """A request with every template resolved, ready to send."""

    method: str
    url: str
    headers: dict[str, str]
    data: str | None
    json: Any
    auth: aiohttp.BasicAuth | None
    spec: HttpRequest


def prepare(spec: HttpRequest, expander: Expander) -> Prepared:
    """Resolve `${env:...}` and `${var}` in the request. MissingValue if unset."""
    headers = {k: expander.text(v) for k, v in spec.headers.items()}
    if spec.bearer_token is not None:
        headers["Authorization"] = f"Bearer {expander.text(spec.bearer_token)}"
    auth = None
    if spec.basic_auth is not None:
        auth = aiohttp.BasicAuth(
            expander.text(spec.basic_auth.username), expander.text(spec.basic_auth.password)
        )
    body = expander.text(spec.body) if spec.body is not None else None
    return Prepared(
        spec.method,
        expander.text(spec.url),
        headers,
        body,
        expander.value(spec.json_body),
        auth,
        spec,
    )


def trace_headers() -> tuple[str, dict[str, str]]:
    """A fresh request id, and X-Request-ID and traceparent headers carrying it."""
    # Ids must be unique, not unguessable: `random` (as OpenTelemetry uses)
    # spares two getrandom syscalls per probe. All-zero ids are invalid.
    trace_id = f"{getrandbits(128) or 1:032x}"
    return trace_id, {
        "X-Request-ID": trace_id,
        "traceparent": f"00-{trace_id}-{getrandbits(64) or 1:016x}-01",
        "User-Agent": "vantage-agent/0.1",
    }


@functools.lru_cache(maxsize=256)
def _deadline(budget: float) -> aiohttp.ClientTimeout:
    """The timeout for a request with `budget` seconds; checks reuse theirs."""
    return aiohttp.ClientTimeout(total=budget)


@dataclass
class Fetched:
    """What `fetch` learnt beyond the Answer."""

    answer: Answer
    phases: dict[str, float]
    tls: Peer | None
    request_id: str
    http_version: str
    body_bytes: int


async def fetch(
    session: aiohttp.ClientSession, req: Prepared, budget: float, tls: ssl.SSLContext | bool
) -> Fetched:
    """Send `req`, following redirects as configured. Raises on transport errors."""
    request_id, ids = trace_headers()
    started = time.perf_counter()
    phases: dict[str, float] = {}
    chain: list[Hop] = []
    method, url, visited = req.method, req.url, {req.url}
    deadline = _deadline(budget)
    while True:
        clock = PhaseClock(tls=url.startswith("https:"))
        token = CLOCK.set(clock)
        try:
            async with session.request(
                method,
                url,
                headers={**req.headers, **ids},
                data=req.data,
                json=req.json,
                auth=req.auth,
                timeout=deadline,
                allow_redirects=False,
                ssl=tls,
            ) as resp:
                clock.mark("headers")
                peer = _peer(resp)
                body = await _read_capped(resp, req.spec.max_body_bytes)
                clock.mark("done")
        finally:
            CLOCK.reset(token)
        for name, seconds in clock.phases().items():
            phases[name] = phases.get(name, 0.0) + seconds
        location = resp.headers.get("Location")
        if resp.status not in _REDIRECTS or location is None:
            break
        chain.append(Hop(resp.status, url, location))
        if not req.spec.redirects.follow:
            break
        url = urljoin(url, location)
        if url in visited or len(chain) > req.spec.redirects.max:
            raise RedirectLoop(_loop_message(chain, req.spec.redirects.max, url in visited))
        visited.add(url)
        if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
            method = "GET"  # what browsers do; 307/308 keep the method
    answer = Answer(resp.status, resp.headers, body, url, time.perf_counter() - started, chain)
    version = f"{resp.version.major}.{resp.version.minor}" if resp.version else ""
    return Fetched(answer, phases, peer, request_id, version, len(body))


def _loop_message(chain: list[Hop], limit: int, looped: bool) -> str:
    path = " -> ".join([chain[0].url, *(h.location for h in chain)])
    return f"redirect loop: {path}" if looped else f"more than {limit} redirects: {path}"


def _peer(resp: aiohttp.ClientResponse) -> Peer | None:
    # The connection is released once a small body is read, so read the
    # certificate now, from the handshake itself.
    transport = resp.connection.transport if resp.connection else None
    ssl_object = transport.get_extra_info("ssl_object") if transport else None
    if ssl_object is None:
        return None
    # Imported here: certificate parsing loads `cryptography`, which an
    # agent probing only plain-HTTP targets never needs (memory matters).
    from agent.probes.tls import read_peer  # noqa: PLC0415

    return read_peer(ssl_object)


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """Read at most `cap` bytes of the body."""
    content = resp.content
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await content.read(min(_CHUNK, cap - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if content.at_eof():  # a small body arrives whole: skip the read that finds EOF
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def conclude(
    findings: list[Finding], result: pb.Result, prefix: str = ""
) -> tuple[FailureReason, str] | None:
    """Record findings as assertions; the first failure's reason and message."""
    for name, ok, message in findings:
        text = "" if ok else scrub(message)[:300]
        result.assertions.add(name=prefix + name, ok=ok, message=text)
    failed = [(name, message) for name, ok, message in findings if not ok]
    if not failed:
        return None
    name, message = failed[0]
    reason = FailureReason.HTTP_STATUS if name == "http.status" else FailureReason.ASSERTION
    more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
    text = message if name == "http.status" else f"{name}: {message}"
    return reason, text + more


async def probe(check: HttpCheck, ctx: ProbeContext) -> pb.Result:
    """Request `check.url` (and its redirects) once and judge the answer."""
    result = new_result(check, ctx)
    started = time.perf_counter()
    try:
        req = prepare(check, Expander(ctx.env))
        tls = ssl_context(check.ca_file, not check.insecure_skip_verify)
        fetched = await fetch(ctx.http(_FAMILIES[check.ip_version]), req, check.timeout, tls)
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
    for hop in answer.chain:
        details.redirects.add(status=hop.status, url=hop.url, location=hop.location)
    if fetched.tls is not None:
        from agent.probes.tls import record  # noqa: PLC0415  # see _peer

        record(result.tls, fetched.tls)
    if release_header:
        result.release = answer.headers.get(release_header, "")[:64]


def classify(exc: BaseException) -> tuple[FailureReason, str]:
    """Map an aiohttp/ssl/OS exception to a failure reason and message."""
    if isinstance(exc, MissingValue):
        return FailureReason.CONFIG, str(exc)
    if isinstance(exc, RedirectLoop):
        return FailureReason.REDIRECT_LOOP, str(exc)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _cert_reason(exc.certificate_error), str(exc.certificate_error)
    if isinstance(exc, aiohttp.ClientConnectorSSLError | ssl.SSLError):
        return FailureReason.TLS_HANDSHAKE, str(exc)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return _dns_reason(exc.os_error), f"cannot resolve {exc.host}: {exc.os_error.strerror}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _connect_reason(exc.os_error), f"connect to {exc.host}:{exc.port}: {exc.strerror}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FailureReason.CONNECT_TIMEOUT, "connect timed out"
    if isinstance(exc, TimeoutError):
        return FailureReason.TIMEOUT, "timed out"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return FailureReason.REDIRECT_LOOP, "too many redirects"
    if isinstance(exc, aiohttp.ClientError):
        return FailureReason.HTTP_PROTOCOL, f"{type(exc).__name__}: {exc}"
    return FailureReason.INTERNAL, f"{type(exc).__name__}: {exc}"


def _cert_reason(error: BaseException) -> FailureReason:
    text = str(error).lower()
    if "hostname" in text or "ip address mismatch" in text:
        return FailureReason.TLS_HOSTNAME
    if "expired" in text:
        return FailureReason.TLS_EXPIRED
    return FailureReason.TLS_VERIFY


def _dns_reason(error: OSError) -> FailureReason:
    if error.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
        return FailureReason.DNS_NXDOMAIN
    if error.errno == socket.EAI_AGAIN:
        return FailureReason.DNS_TIMEOUT
    return FailureReason.DNS_ERROR


def _connect_reason(error: OSError) -> FailureReason:
    if isinstance(error, ConnectionRefusedError):
        return FailureReason.CONNECT_REFUSED
    if isinstance(error, TimeoutError):
        return FailureReason.CONNECT_TIMEOUT
    return FailureReason.CONNECT_ERROR
