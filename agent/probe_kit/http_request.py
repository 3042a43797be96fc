"""The request side of the probes' HTTP client: a URL split for sending
(`target`), the request's bytes (`encode`), and the TLS settings an https
request is checked with (`Tls`). Pure but for loading a CA store.
"""

from __future__ import annotations

import base64
import functools
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

from agent.probe_kit.faults import InvalidUrl
from agent.probe_kit.http_phases import is_ip_literal

ACCEPT_ENCODING = "gzip, deflate"
"""The codings the client decodes, so the only ones it asks for."""
_GET_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
_POST_METHODS = frozenset({"PATCH", "POST", "PUT"})
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""Control characters that would let a header value start a new header."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL says about where and how to send a request."""

    tls: bool
    host: str
    """The host to connect to (IDNA, no brackets), and for TLS the name."""
    port: int
    authority: str
    """The Host header: the host, and the port when not the default."""
    path: str
    """The request target: path and query, percent-encoded."""
    cookie_path: str
    auth: str | None
    """An Authorization header from credentials written in the URL."""


@functools.lru_cache(maxsize=1024)
def target(url: str) -> Target:
    """`url` split for sending (cached: a check requests the same URL every
    time). InvalidUrl for one that cannot be sent."""
    try:
        parts = URL(url)
        host = parts.raw_host or ""
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"bad URL {url}: {exc}") from None
    if not host or port is None or parts.scheme not in ("http", "https"):
        raise InvalidUrl(f"bad URL {url}")
    if ":" not in host and is_ip_literal(host) and not _canonical_ipv4(host):
        raise InvalidUrl(f"bad URL {url}: {host} is not a canonical IPv4 address")
    if host.endswith(".."):
        host = host.rstrip(".") + "."
    auth = None
    if parts.raw_user is not None or parts.raw_password is not None:
        auth = basic_auth(parts.user or "", parts.password or "", "latin1")
    authority = parts.host_port_subcomponent or host
    return Target(
        parts.scheme == "https", host, port, authority, parts.raw_path_qs, parts.path, auth
    )


def _canonical_ipv4(host: str) -> bool:
    octets = host.split(".")
    return len(octets) == 4 and all(
        o.isascii() and o.isdigit() and len(o) <= 3 and str(int(o)) == o and int(o) <= 255
        for o in octets
    )


def basic_auth(user: str, password: str, encoding: str = "utf-8") -> str:
    """The `Authorization` value for HTTP basic credentials (RFC 7617)."""
    if ":" in user:
        raise ValueError('A ":" is not allowed in login (RFC 7617#section-2)')
    return "Basic " + base64.b64encode(f"{user}:{password}".encode(encoding)).decode(encoding)


@functools.lru_cache(maxsize=64)
def ssl_context(ca_file: str | None, verify: bool = True) -> ssl.SSLContext:
    """The TLS settings for a request: system store, a CA file, or no checks.

    Cached: building a context and loading a CA bundle costs milliseconds.
    """
    if verify:
        context = ssl.create_default_context(cafile=ca_file)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.options |= ssl.OP_NO_COMPRESSION
        context.set_default_verify_paths()
    context.set_alpn_protocols(("http/1.1",))  # the only protocol the client speaks
    return context


@dataclass(frozen=True, slots=True)
class Tls:
    """How an https request checks the server: against `ca_file` (None:
    the system's store), or not at all. The context is built on the first
    https request only: an agent probing plain HTTP never loads a CA store."""

    ca_file: str | None = None
    verify: bool = True

    def context(self) -> ssl.SSLContext:
        """The (cached) SSL context for these settings."""
        return ssl_context(self.ca_file, self.verify)


Body = tuple[bytes, str]
"""A request body and its Content-Type."""


def encode(method: str, where: Target, headers: Mapping[str, str], body: Body | None) -> bytes:
    """The request head (and body) as sent: the Host first, the given
    headers, then what is missing of Accept, Accept-Encoding, the
    credentials from the URL, the body's length and type, Connection."""
    host = where.authority
    lines = []
    names = set()
    for name, value in headers.items():
        low = name.lower()
        if low == "host":
            host = value
            continue
        names.add(low)
        lines.append(f"{name}: {value}")
    if "accept" not in names:
        lines.append("Accept: */*")
    if "accept-encoding" not in names:
        lines.append(f"Accept-Encoding: {ACCEPT_ENCODING}")
    if where.auth is not None:
        if "authorization" in names:
            raise ValueError(
                "Cannot combine AUTHORIZATION header with AUTH argument or credentials"
                " encoded in URL"
            )
        lines.append(f"Authorization: {where.auth}")
    lines += _body_headers(method, names, body)
    if "connection" not in names:
        lines.append("Connection: close")
    if _FORBIDDEN.search("\t".join((host, *lines))):
        raise ValueError("a control character in a header: it could inject another")
    head = f"{method} {where.path} HTTP/1.1\r\nHost: {host}\r\n" + "\r\n".join(lines)
    data = (head + "\r\n\r\n").encode()
    return data if body is None else data + body[0]


def _body_headers(method: str, names: set[str], body: Body | None) -> list[str]:
    lines = []
    if body is None:
        if method not in _GET_METHODS and "content-length" not in names:
            lines.append("Content-Length: 0")
    elif "content-length" not in names:
        lines.append(f"Content-Length: {len(body[0])}")
    if "content-type" not in names:
        if body is not None:
            lines.append(f"Content-Type: {body[1]}")
        elif method in _POST_METHODS:
            lines.append("Content-Type: application/octet-stream")
    return lines
