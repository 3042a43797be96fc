"""The `http` check type: one request, its redirects, and what the answer
must look like. `http_flow` steps reuse the request and expectation models."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

import jmespath
import jmespath.exceptions
from pydantic import Field, field_validator, model_validator

from common.config.base import CheckBase, Duration, Model, Strings, shared
from common.config.dns import validate_dns_name

_STATUS_RANGE = re.compile(r"^([1-5])xx$", re.IGNORECASE)
_TEMPLATE = re.compile(r"\$\{[^}]*\}")
# What may stand in a host: a DNS name (or IDN), an IPv4 or a bracketed IPv6.
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_BODY_BYTES = 10 << 20
"""The default `max_body_bytes`: 10 MiB."""


def status_matches(spec: str, status: int) -> bool:
    """Whether `status` fits a status spec: `200` or a range like `2xx`."""
    match = _STATUS_RANGE.match(spec)
    if match:
        return status // 100 == int(match.group(1))
    return spec == str(status)


def _status_spec(value: object) -> str:
    text = str(value).strip()
    if _STATUS_RANGE.match(text):
        return text.lower()  # 2XX and 2xx are the same class
    if text.isdigit() and 100 <= int(text) <= 599:
        return text
    raise ValueError(f"bad status {value!r}: use a code from 100 to 599 or a range like 2xx")


def validate_url(url: str) -> str:
    """Reject URLs a probe could never request (templates are checked later)."""
    if url != url.strip() or any(c in url for c in "\r\n\t"):
        raise ValueError(f"bad URL {url!r}: white space around or inside it")
    try:
        parts = urlsplit(_TEMPLATE.sub("x", url))
    except ValueError as exc:
        raise ValueError(f"bad URL {url!r}: {exc}") from None
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad URL {url!r}: bad port") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"bad URL {url!r}: the scheme must be http or https")
    if not parts.hostname:
        raise ValueError(f"bad URL {url!r}: no host")
    try:
        _host(parts.hostname)
    except ValueError as exc:
        raise ValueError(f"bad URL {url!r}: {exc}") from None
    if port == 0:
        raise ValueError(f"bad URL {url!r}: bad port 0")
    return url


def _host(host: str) -> None:
    """An IP address, or a DNS name (an IDN in its ASCII form)."""
    try:
        ipaddress.ip_address(host.partition("%")[0])  # a v6 zone id is allowed
        return
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode()
    except UnicodeError:
        raise ValueError(f"bad host {host!r}: use a DNS name like www.example.com") from None
    validate_dns_name(ascii_host, "host")


def normalise_url(url: str, base: str | None = None) -> str:
    """`url` as the resource it names: resolved against `base` when
    relative, scheme and host in lower case, no default port, `/` for an
    empty path. Used to compare URLs by meaning, not spelling."""
    try:
        parts = urlsplit(urljoin(base, url.strip()) if base else url.strip())
        port = parts.port
    except ValueError:
        return url  # compared as written; the probe reports it malformed
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}" if auth else host
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


_FOLLOWED = frozenset({"301", "302", "303", "307", "308"})
"""Statuses that are followed (a Location given): never the final answer."""


def _can_pass(expect: HttpExpect, redirects: Redirects) -> None:
    """ValueError for expectations that contradict how redirects are followed."""
    if redirects.follow and set(expect.status) <= _FOLLOWED:
        raise ValueError(
            f"expect.status {', '.join(expect.status)} can never be seen: redirects are"
            " followed; set redirects.follow: false to judge the redirect itself"
        )
    chain = redirects.expect_chain
    if not redirects.follow and chain is not None and len(chain) > 1:
        raise ValueError(
            f"redirects.expect_chain lists {len(chain)} hops but redirects.follow is false,"
            " so at most 1 is seen"
        )


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from None
    return pattern


class HeaderExpect(Model):
    """One header: equal to a value, matching a regex, or absent."""

    equals: str | None = None
    regex: str | None = None
    contains: str | None = None
    absent: bool = False
    match: Literal["all", "any"] = "all"
    """A header may repeat (Set-Cookie): `all` its values must fit (the
    default: one cookie without Secure is a finding), or `any` one of them."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"equals": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_rule(self) -> HeaderExpect:
        rules = [self.equals, self.regex, self.contains, self.absent or None]
        if sum(r is not None for r in rules) != 1:
            raise ValueError("give exactly one of equals, regex, contains or absent: true")
        if self.regex is not None:
            _regex(self.regex)
        return self


_COMPARISONS = ("equals", "not_equals", "gt", "ge", "lt", "le", "contains", "matches", "exists")


class JsonExpect(Model):
    """A JMESPath expression and what its value must be."""

    path: str
    equals: Any = None
    not_equals: Any = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    contains: Any = None
    matches: str | None = None
    exists: bool | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, path: str) -> str:
        try:
            jmespath.compile(path)
        except jmespath.exceptions.JMESPathError as exc:
            raise ValueError(f"bad JSON path {path!r}: {exc}") from None
        return path

    @model_validator(mode="after")
    def _one_comparison(self) -> JsonExpect:
        given = [name for name in _COMPARISONS if name in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(f"path {self.path!r}: give exactly one of {', '.join(_COMPARISONS)}")
        if self.matches is not None:
            _regex(self.matches)
        return self

    @property
    def comparison(self) -> tuple[str, Any]:
        """The one (operator, operand) this expectation sets."""
        name = next(n for n in _COMPARISONS if n in self.model_fields_set)
        return name, getattr(self, name)


class HttpExpect(Model):
    """What a good HTTP answer looks like."""

    status: tuple[str, ...] = ("2xx",)
    headers: dict[str, HeaderExpect] = Field(default_factory=dict)
    body_contains: Strings = ()
    body_not_contains: Strings = ()
    body_regex: Strings = ()
    json_: tuple[JsonExpect, ...] = Field(default=(), alias="json")
    max_latency: Duration | None = None

    model_config = Model.model_config | {"populate_by_name": True}

    @field_validator("status", mode="before")
    @classmethod
    def _statuses(cls, value: object) -> tuple[str, ...]:
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(_status_spec(item) for item in items)

    @field_validator("body_contains", "body_not_contains")
    @classmethod
    def _needles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "" in value:  # found in every body: always passes, or always fails
            raise ValueError("an empty string is in every body: give the text to look for")
        return value

    @field_validator("body_regex")
    @classmethod
    def _regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_regex(v) for v in value)

    def status_ok(self, status: int) -> bool:
        """Whether `status` is one of the expected codes."""
        return any(status_matches(spec, status) for spec in self.status)


class ChainHop(Model):
    """One expected redirect: its status and Location."""

    status: int | None = None
    location: str | None = None


class Redirects(Model):
    """How redirects are followed and what the chain must be."""

    follow: bool = True
    max: int = Field(default=10, ge=0, le=50)
    expect_chain: tuple[ChainHop, ...] | None = None
    expect_final_url: str | None = None


class BasicAuth(Model):
    """HTTP basic credentials; use `${env:NAME}` for the password."""

    username: str
    password: str


class HttpRequest(Model):
    """The request part shared by `http` checks and `http_flow` steps."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    basic_auth: BasicAuth | None = None
    bearer_token: str | None = None
    expect: HttpExpect = Field(default_factory=shared(HttpExpect))
    redirects: Redirects = Field(default_factory=shared(Redirects))
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=0)
    """A larger body fails with `body_too_large`; 0 means no limit."""

    model_config = Model.model_config | {"populate_by_name": True}

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return validate_url(value)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        method = value.upper()
        if method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            raise ValueError(f"bad method {value!r}")
        return method

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequest:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give body or json, not both")
        body_rules = [
            name
            for name in ("body_contains", "body_not_contains", "body_regex", "json")
            if getattr(self.expect, "json_" if name == "json" else name)
        ]
        if self.method == "HEAD" and body_rules:
            raise ValueError(
                f"method HEAD gets no body, so expect.{body_rules[0]} can never pass:"
                " use GET, or drop the body assertions"
            )
        _can_pass(self.expect, self.redirects)
        return self


class HttpCheck(CheckBase, HttpRequest):
    """An HTTP(S) request against one URL."""

    type: Literal["http"] = "http"
    release_header: str | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    ip_version: Literal[4, 6, "any"] = "any"

    @model_validator(mode="after")
    def _family_fits_literal(self) -> HttpCheck:
        host = urlsplit(self.url).hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return self  # a name (or a template): resolved per probe
        if self.ip_version not in ("any", address.version):
            raise ValueError(
                f"ip_version {self.ip_version} cannot reach {host}, an IPv{address.version} address"
            )
        return self
