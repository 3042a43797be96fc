"""Judge an HTTP answer against `expect:` and `redirects:`. Pure: no I/O.

Each rule becomes a named assertion (`http.status`, `header.x-frame-options`,
`json.status`, `redirects.chain`, ...) so a failure says exactly what broke.
"""

from __future__ import annotations

import codecs
import functools
import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jmespath
import jmespath.exceptions
from multidict import MultiMapping

from agent.probe_kit.charset import PRESCAN_BYTES, codec
from common.config.http import (
    ChainHop,
    HeaderExpect,
    HttpExpect,
    JsonExpect,
    Redirects,
    normalise_url,
    status_matches,
)
from common.durations import format_duration


@dataclass(frozen=True)
class Hop:
    """One redirect: the status, the URL that answered it, and its Location."""

    status: int
    url: str
    location: str


@dataclass
class Answer:
    """What the probe saw: the final response and the way there."""

    status: int
    headers: MultiMapping[str]
    body: bytes
    final_url: str
    elapsed: float
    chain: list[Hop] = field(default_factory=list)
    charset: str | None = None
    scan: BodyScan | None = None
    """Set when the body was searched as it streamed instead of kept."""

    @functools.cached_property
    def text(self) -> str:
        """The body decoded as a browser would (BOM, charset, `<meta>`)."""
        return self.body.decode(codec(self.charset, self.body[:PRESCAN_BYTES]), errors="replace")


class BodyScan:
    """Literal body assertions searched chunk by chunk as the body streams,
    so a large body is judged whole without being held: each chunk is
    decoded incrementally and searched together with the tail of the one
    before, long enough for a needle that straddles the two."""

    def __init__(self, needles: tuple[str, ...]) -> None:
        self.needles = needles
        self.found: set[str] = set()
        self._tail = ""
        self._overlap = max(len(n) for n in needles) - 1
        self._decoder: codecs.IncrementalDecoder | None = None
        self._charset: str | None = None
        self._head = b""

    def start(self, charset: str | None) -> None:
        """Begin a body whose Content-Type names `charset` (each response
        of a redirect chain starts afresh: only the last one is judged)."""
        self.found.clear()
        self._tail = ""
        self._charset, self._head, self._decoder = charset, b"", None

    def feed(self, chunk: bytes, final: bool = False) -> None:
        """Search the next chunk (`final`: the body ended)."""
        if self._decoder is None:
            # The codec depends on the body's first bytes (a BOM, a <meta>).
            self._head += chunk
            if len(self._head) < PRESCAN_BYTES and not final:
                return
            name = codec(self._charset, self._head[:PRESCAN_BYTES])
            self._decoder = codecs.getincrementaldecoder(name)(errors="replace")
            chunk, self._head = self._head, b""
        text = self._tail + self._decoder.decode(chunk, final)
        self.found.update(n for n in self.needles if n not in self.found and n in text)
        self._tail = text[-self._overlap :] if self._overlap else ""


def reads_body(expect: HttpExpect) -> bool:
    """Whether judging needs the body kept whole (a regex or JSON)."""
    return bool(expect.body_regex or expect.json_)


def scan_for(expect: HttpExpect) -> BodyScan | None:
    """A streaming search for the literal body assertions, when those are
    all that reads the body."""
    needles = (*expect.body_contains, *expect.body_not_contains)
    if not needles or reads_body(expect):
        return None
    return BodyScan(tuple(dict.fromkeys(needles)))


Finding = tuple[str, bool, str]
"""(assertion name, ok, message)."""


def judge(expect: HttpExpect, redirects: Redirects, answer: Answer) -> list[Finding]:
    """Every finding for this answer, the status first."""
    findings = [_status(expect.status, answer.status)]
    if expect.headers:
        findings += [_header(name, rule, answer.headers) for name, rule in expect.headers.items()]
    if expect.body_contains or expect.body_not_contains or expect.body_regex:
        findings += _body(expect, answer)
    if expect.json_:
        findings += _json(expect.json_, answer.text)
    if expect.max_latency is not None:
        ok = answer.elapsed <= expect.max_latency
        message = f"latency {answer.elapsed * 1000:.0f}ms > {format_duration(expect.max_latency)}"
        findings.append(("http.max_latency", ok, message))
    if redirects.expect_chain is not None or redirects.expect_final_url is not None:
        findings += _redirects(redirects, answer)
    return findings


@functools.lru_cache(maxsize=1024)
def _status(specs: tuple[str, ...], status: int) -> Finding:
    # Cached: every probe of a healthy check asks the same question.
    ok = any(status_matches(spec, status) for spec in specs)
    return "http.status", ok, f"status {status}, want {', '.join(specs)}"


def _header(name: str, rule: HeaderExpect, headers: MultiMapping[str]) -> Finding:
    """Judge every value of a header that may repeat (Set-Cookie): all of
    them must fit, or any one, as `rule.match` says."""
    values = headers.getall(name, [])
    label = f"header.{name.lower()}"
    if rule.absent:
        return label, not values, f"present: {', '.join(map(repr, values))}"
    if not values:
        return label, False, "missing"
    fits, want = _header_test(rule)
    bad = [v for v in values if not fits(v)]
    ok = not bad if rule.match == "all" else len(bad) < len(values)
    if len(values) == 1:
        return label, ok, f"{values[0]!r}, want {want}"
    shown = ", ".join(map(repr, bad if rule.match == "all" else values))
    return label, ok, f"{len(bad)} of {len(values)} values fail ({shown}), want {rule.match} {want}"


def _header_test(rule: HeaderExpect) -> tuple[Callable[[str], bool], str]:
    if rule.equals is not None:
        equals = rule.equals
        return (lambda v: v == equals), repr(equals)
    if rule.contains is not None:
        contains = rule.contains
        return (lambda v: contains in v), f"containing {contains!r}"
    assert rule.regex is not None
    pattern = re.compile(rule.regex)
    return (lambda v: pattern.search(v) is not None), f"matching /{rule.regex}/"


def _body(expect: HttpExpect, answer: Answer) -> list[Finding]:
    def has(needle: str) -> bool:
        return needle in answer.scan.found if answer.scan is not None else needle in answer.text

    findings = [("body.contains", has(s), f"missing {s!r}") for s in expect.body_contains]
    findings += [
        ("body.not_contains", not has(s), f"found {s!r}") for s in expect.body_not_contains
    ]
    findings += [
        ("body.regex", re.search(p, answer.text) is not None, f"no match for /{p}/")
        for p in expect.body_regex
    ]
    return findings


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": operator.eq,
    "not_equals": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "contains": lambda value, item: item in value,
    "matches": lambda value, pattern: re.search(pattern, str(value)) is not None,
    "exists": lambda value, want: (value is not None) == want,
}


def _json(rules: tuple[JsonExpect, ...], body: str) -> list[Finding]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        return [(f"json.{rule.path}", False, f"body is not JSON: {exc}") for rule in rules]
    return [_json_rule(rule, data) for rule in rules]


def _json_rule(rule: JsonExpect, data: Any) -> Finding:
    name = f"json.{rule.path}"
    try:
        value = jmespath.search(rule.path, data)
    except jmespath.exceptions.JMESPathError as exc:
        return name, False, f"{rule.path}: {exc}"
    op, operand = rule.comparison
    try:
        ok = _OPS[op](value, operand)
    except TypeError:
        ok = False
    return name, ok, f"{rule.path} = {json.dumps(value)[:80]}, want {op} {operand!r}"


def _redirects(redirects: Redirects, answer: Answer) -> list[Finding]:
    findings: list[Finding] = []
    if redirects.expect_chain is not None:
        findings.append(_chain(redirects.expect_chain, answer))
    if redirects.expect_final_url is not None:
        ok = normalise_url(answer.final_url) == normalise_url(redirects.expect_final_url)
        findings.append(
            (
                "redirects.final_url",
                ok,
                f"ended at {answer.final_url}, want {redirects.expect_final_url}",
            )
        )
    return findings


def _chain(expected: tuple[ChainHop, ...], answer: Answer) -> Finding:
    """Locations compare as the URLs they lead to: a relative Location, host
    case, a default port or an empty path change nothing."""
    chain = answer.chain
    bases = [h.url for h in chain] + [answer.final_url] * max(0, len(expected) - len(chain))
    got = [f"{h.status} {normalise_url(h.location, h.url)}" for h in chain]
    want = [
        f"{w.status or '3xx'} {normalise_url(w.location, base) if w.location else '*'}"
        for w, base in zip(expected, bases, strict=False)
    ]
    ok = len(chain) == len(expected) and all(
        w.status in (None, h.status)
        and (w.location is None or want_url == got_url.partition(" ")[2])
        for w, h, want_url, got_url in zip(
            expected, chain, [x.partition(" ")[2] for x in want], got, strict=True
        )
    )
    return "redirects.chain", ok, f"chain {got or 'empty'}, want {want or 'empty'}"
