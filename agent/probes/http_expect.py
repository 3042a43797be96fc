"""Judge an HTTP answer against `expect:` and `redirects:`. Pure: no I/O.

Each rule becomes a named assertion (`http.status`, `header.x-frame-options`,
`json.status`, `redirects.chain`, ...) so a failure says exactly what broke.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jmespath
import jmespath.exceptions

from common.config.http import HeaderExpect, HttpExpect, JsonExpect, Redirects, status_matches
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
    headers: Mapping[str, str]
    body: bytes
    final_url: str
    elapsed: float
    chain: list[Hop] = field(default_factory=list)


Finding = tuple[str, bool, str]
"""(assertion name, ok, message)."""


def judge(expect: HttpExpect, redirects: Redirects, answer: Answer) -> list[Finding]:
    """Every finding for this answer, the status first."""
    findings = [_status(expect.status, answer.status)]
    if expect.headers:
        findings += [_header(name, rule, answer.headers) for name, rule in expect.headers.items()]
    if expect.body_contains or expect.body_not_contains or expect.body_regex:
        findings += _body(expect, answer.body)
    if expect.json_:
        findings += _json(expect.json_, answer.body)
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


def _header(name: str, rule: HeaderExpect, headers: Mapping[str, str]) -> Finding:
    value = headers.get(name)
    label = f"header.{name.lower()}"
    if rule.absent:
        return label, value is None, f"present: {value!r}"
    if value is None:
        return label, False, "missing"
    if rule.equals is not None:
        return label, value == rule.equals, f"{value!r} != {rule.equals!r}"
    if rule.contains is not None:
        return label, rule.contains in value, f"{value!r} lacks {rule.contains!r}"
    assert rule.regex is not None
    return label, re.search(rule.regex, value) is not None, f"{value!r} !~ /{rule.regex}/"


def _body(expect: HttpExpect, body: bytes) -> list[Finding]:
    text = body.decode("utf-8", errors="replace")
    findings = [("body.contains", s in text, f"missing {s!r}") for s in expect.body_contains]
    findings += [
        ("body.not_contains", s not in text, f"found {s!r}") for s in expect.body_not_contains
    ]
    findings += [
        ("body.regex", re.search(p, text) is not None, f"no match for /{p}/")
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


def _json(rules: tuple[JsonExpect, ...], body: bytes) -> list[Finding]:
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
        got = [f"{h.status} {h.location}" for h in answer.chain]
        want = [f"{h.status or '3xx'} {h.location or '*'}" for h in redirects.expect_chain]
        ok = len(answer.chain) == len(redirects.expect_chain) and all(
            (w.status in (None, h.status)) and (w.location in (None, h.location))
            for w, h in zip(redirects.expect_chain, answer.chain, strict=False)
        )
        findings.append(("redirects.chain", ok, f"chain {got or 'empty'}, want {want or 'empty'}"))
    if redirects.expect_final_url is not None:
        ok = answer.final_url == redirects.expect_final_url
        findings.append(
            (
                "redirects.final_url",
                ok,
                f"ended at {answer.final_url}, want {redirects.expect_final_url}",
            )
        )
    return findings
