"""The HTTP client that `http` and `http_flow` share: prepare a request,
send it and follow its redirects on a fresh connection, read the body up to
its limit, and map the client's exceptions to failure reasons in
`classify`. The request's bytes are made in `http_request`, sent and
answered in `http_wire`, over a connection made in `http_phases`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import ssl
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from random import getrandbits
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from agent.probe_kit.base import Nameserver
from agent.probe_kit.cookies import CookieJar
from agent.probe_kit.faults import Failure, InvalidUrl, ProtocolViolation, failure
from agent.probe_kit.faults import classify as classify_shared
from agent.probe_kit.http_expect import Answer, BodyScan, Finding, Hop
from agent.probe_kit.http_phases import ConnectFailed, LookupFailed, PhaseClock
from agent.probe_kit.http_request import Body, Tls, basic_auth, target
from agent.probe_kit.http_wire import BodyReader, Session
from agent.probe_kit.resolve import NameserverResolver, ResolveFailed, Resolver
from common import redaction
from common.config.http import HttpRequest, validate_url
from common.faults import Fault
from common.reasons import FailureReason
from common.redaction import redact
from common.template import Expander
from vantage.v1 import vantage_pb2 as pb

if TYPE_CHECKING:
    from agent.probe_kit.certs import Peer

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class RedirectLoop(Exception):
    """The redirects went round in a circle or past `redirects.max`."""


class ConnectTimeout(Exception):
    """The request's time ran out before its connection was made."""


def new_session(
    family: int = socket.AF_UNSPEC,
    nameserver: Nameserver | None = None,
    cookie_jar: CookieJar | None = None,
    resolver: Resolver | None = None,
) -> Session:
    """A session whose every request opens a fresh connection and lookup,
    asking `nameserver` for names when set (else the system resolver);
    `resolver` replaces both (the CLI's --connect-to)."""
    if resolver is None and nameserver is not None:
        resolver = NameserverResolver(nameserver)
    return Session(family, resolver, cookie_jar)


@dataclass(frozen=True)
class Prepared:
    """A request with every template resolved, ready to send."""

    method: str
    url: str
    headers: dict[str, str]
    data: str | None
    json: Any
    spec: HttpRequest


def prepare(spec: HttpRequest, expander: Expander) -> Prepared:
    """Resolve `${env:...}` and `${var}` in the request. MissingValue if
    unset, InvalidUrl if the URL they make cannot be requested."""
    headers = {k: expander.text(v) for k, v in spec.headers.items()}
    if spec.bearer_token is not None:
        headers["Authorization"] = f"Bearer {expander.text(spec.bearer_token)}"
    if spec.basic_auth is not None:
        user, password = spec.basic_auth.username, expander.text(spec.basic_auth.password)
        value = basic_auth(expander.text(user), password)
        # The header value is base64("user:pass") in UTF-8: a secret of its own.
        redact(value.partition(" ")[2])
        redact(password)
        headers["Authorization"] = value
    body = expander.text(spec.body) if spec.body is not None else None
    url = expander.text(spec.url)
    _register_credentials(headers, url)
    if url != spec.url:
        try:
            validate_url(url)
        except ValueError as exc:
            raise InvalidUrl(str(exc)) from None
    return Prepared(spec.method, url, headers, body, expander.value(spec.json_body), spec)


class _Watching(Expander):
    """An expander that notes whether any setting was a template."""

    templated = False

    def text(self, template: str) -> str:
        """Expand one string, noting a template."""
        if "${" in template:
            self.templated = True
        return super().text(template)


_Fields = tuple[str, str, dict[str, str], str | None, Any]

_FIXED: dict[int, tuple[weakref.ref[HttpRequest], int, _Fields]] = {}
"""id(spec) -> (the spec, the redaction epoch, its request's resolved
fields) for specs without a template, forgotten with the spec (the fields
hold no reference to it, so the cache does not keep it alive)."""


def prepared(spec: HttpRequest, env: Mapping[str, str]) -> Prepared:
    """`prepare(spec, Expander(env))`, done once per spec that holds no
    template (most checks): such a request is the same every time, and
    preparing it (headers expanded, credentials registered, the URL split)
    cost 15-40 µs per probe in the agent's path. A templated spec is
    prepared every time."""
    key = id(spec)
    entry = _FIXED.get(key)
    if entry is not None and entry[0]() is spec and entry[1] == redaction.epoch:
        return Prepared(*entry[2], spec)
    expander = _Watching(env)
    req = prepare(spec, expander)
    if not expander.templated:
        ref = weakref.ref(spec, lambda dead: _forget(key, dead))
        _FIXED[key] = (ref, redaction.epoch, (req.method, req.url, req.headers, req.data, req.json))
    return req


def _forget(key: int, dead: weakref.ref[HttpRequest]) -> None:
    entry = _FIXED.get(key)
    if entry is not None and entry[0] is dead:
        del _FIXED[key]


_CREDENTIAL_HEADER = re.compile(
    r"auth|token|secret|key|cookie|session|passw|credential|signature", re.IGNORECASE
)
"""Header names whose values are credentials (Authorization, Cookie, X-Api-Key, ...)."""


def _register_credentials(headers: dict[str, str], url: str) -> None:
    """Credentials written literally in the config are secrets too (values
    from `${env:...}` and `${var}` are already): a bearer token, a
    credential header's value, a password in the URL's userinfo."""
    for name, value in headers.items():
        if _CREDENTIAL_HEADER.search(name):
            redact(value)
            redact(value.partition(" ")[2])  # the token after "Bearer", "Token", ...
    with contextlib.suppress(ValueError):
        password = urlsplit(url).password
        if password:
            redact(password)
            redact(unquote(password))


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


@dataclass
class Fetched:
    """What `fetch` learnt beyond the Answer."""

    answer: Answer
    phases: dict[str, float]
    tls: Peer | None
    request_id: str
    http_version: str
    body_bytes: int
    peer_address: str = ""


async def fetch(
    session: Session,
    req: Prepared,
    budget: float,
    tls: Tls,
    *,
    keep_body: bool = True,
    scan: BodyScan | None = None,
) -> Fetched:
    """Send `req`, following redirects as configured. Raises on transport
    errors, a malformed Location and a body over the limit. The body is
    kept only when `keep_body` (something will read it whole), else searched
    as it streams by `scan` if given, and counted anyway. Each request has
    `budget` seconds from its start, its name lookup included."""
    request_id, ids = trace_headers()
    started = time.perf_counter()
    phases: dict[str, float] = {}
    chain: list[Hop] = []
    method, url, visited = req.method, req.url, {req.url}
    headers, body = {**req.headers, **ids}, _body(req)
    reader = BodyReader(req.spec.max_body_bytes, keep_body, scan)
    peer = None
    while True:
        where = target(url)
        clock = PhaseClock(tls=where.tls)
        try:
            async with asyncio.timeout(budget):
                resp = await session.send(
                    method, where, headers, body, tls=tls, clock=clock, reader=reader
                )
        except TimeoutError as exc:
            raise _timed_out(clock) from exc
        peer = _peer(clock) or peer
        for name, seconds in clock.phases().items():
            phases[name] = phases.get(name, 0.0) + seconds
        location = resp.headers.get("Location")
        if resp.status not in _REDIRECTS or location is None:
            break
        chain.append(Hop(resp.status, url, location))
        if not req.spec.redirects.follow:
            break
        url = next_url(url, location)
        if url in visited or len(chain) > req.spec.redirects.max:
            raise RedirectLoop(_loop_message(chain, req.spec.redirects.max, url in visited))
        visited.add(url)
        if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
            method = "GET"  # what browsers do; 307/308 keep the method
    elapsed = time.perf_counter() - started
    answer = Answer(resp.status, resp.headers, resp.body, url, elapsed, chain, resp.charset, scan)
    return Fetched(answer, phases, peer, request_id, resp.version, resp.size, clock.peer_address)


def _body(req: Prepared) -> Body | None:
    """The request body and its type, as given (`body:` text or `json:`)."""
    if req.data is not None:
        return req.data.encode(), "text/plain; charset=utf-8"
    if req.json is not None:
        return json.dumps(req.json).encode(), "application/json"
    return None


def _timed_out(clock: PhaseClock) -> Exception:
    """The timeout as the phase it struck in: a lookup that got no answer
    is a DNS timeout, a connection never made a connect timeout."""
    marks = clock.marks
    if "dns_start" in marks and "dns_end" not in marks:
        return ResolveFailed(failure(Fault.NO_ANSWER, "no answer from DNS before the timeout"))
    if "conn_end" not in marks and "tcp_connected" not in marks:
        return ConnectTimeout("connect timed out")
    return TimeoutError()


def next_url(url: str, location: str) -> str:
    """Where a redirect leads; ProtocolViolation for a Location no client
    could follow (malformed, or to a scheme other than http/https)."""
    try:
        joined = urljoin(url, location.strip())
        return validate_url(joined)
    except ValueError as exc:
        raise ProtocolViolation(f"malformed Location {location!r} from {url}: {exc}") from None


def _loop_message(chain: list[Hop], limit: int, looped: bool) -> str:
    path = " -> ".join([chain[0].url, *(h.location for h in chain)])
    return f"redirect loop: {path}" if looped else f"more than {limit} redirects: {path}"


def _peer(clock: PhaseClock) -> Peer | None:
    # The connector caught the ssl object at the handshake: a small body
    # releases the connection before `fetch` could ask the response for it.
    if clock.ssl_object is None:
        return None
    # Imported here: certificate parsing loads `cryptography`, which an
    # agent probing only plain-HTTP targets never needs (memory matters).
    from agent.probe_kit.certs import read_peer  # noqa: PLC0415

    return read_peer(clock.ssl_object)


def conclude(findings: list[Finding], result: pb.Result, prefix: str = "") -> Failure | None:
    """Record every finding as an assertion; the reason and a message that
    names every failed one (the status first), or None when all passed."""
    for name, ok, message in findings:
        result.assertions.add(name=prefix + name, ok=ok, message="" if ok else message[:300])
    failed = [(name, message) for name, ok, message in findings if not ok]
    if not failed:
        return None
    reason = FailureReason.HTTP_STATUS if failed[0][0] == "http.status" else FailureReason.ASSERTION
    text = "; ".join(m if n == "http.status" else f"{n}: {m}" for n, m in failed)
    return reason, text


def classify(exc: BaseException) -> Failure:
    """The client's error mapper: unwrap what connecting wraps (to name
    the host) and let the shared table decide."""
    if isinstance(exc, RedirectLoop):
        return FailureReason.REDIRECT_LOOP, str(exc)
    if isinstance(exc, LookupFailed):
        error = exc.error
        if getattr(error, "failure", None) is not None:  # from NameserverResolver
            return classify_shared(error)
        reason, message = classify_shared(socket.gaierror(error.errno, error.strerror))
        return reason, f"cannot resolve {exc.host}: {message}"
    if isinstance(exc, ConnectFailed):
        if isinstance(exc.error, ssl.SSLError):  # the verification error included
            return classify_shared(exc.error)
        reason, message = classify_shared(exc.error, connected=False)
        return reason, f"connect to {exc.host}:{exc.port}: {exc.error.strerror or message}"
    if isinstance(exc, ConnectTimeout):
        return classify_shared(TimeoutError(), connected=False)
    return classify_shared(exc)
