"""A check's request is prepared once when nothing in it is a template
(`http_client.prepared`), and every time when something is."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from agent.probe_kit import http_client
from agent.probe_kit.http_client import prepared
from common import redaction
from common.config.http import HttpCheck

LITERAL = "literal-fake-token-1234"  # pragma: allowlist secret


@pytest.fixture(autouse=True)
def _no_secrets() -> Iterator[None]:
    redaction.forget_all()
    yield
    redaction.forget_all()


def check(**kw: object) -> HttpCheck:
    return HttpCheck.model_validate({"name": "c", "url": "http://127.0.0.1:1/", **kw})


def test_a_spec_without_templates_is_prepared_once() -> None:
    spec = check(headers={"X-Api-Key": LITERAL})
    first = prepared(spec, {})
    assert prepared(spec, {}).headers is first.headers
    assert first.headers == {"X-Api-Key": LITERAL}
    assert redaction.scrub(LITERAL) == redaction.REDACTED


def test_a_templated_spec_is_prepared_each_time_from_the_env() -> None:
    spec = check(bearer_token="${env:TOKEN}")
    one = prepared(spec, {"TOKEN": "first-fake-value"})
    two = prepared(spec, {"TOKEN": "second-fake-value"})
    assert one.headers["Authorization"] == "Bearer first-fake-value"
    assert two.headers["Authorization"] == "Bearer second-fake-value"


def test_emptying_the_redaction_registry_prepares_again() -> None:
    # A cached request must not outlive the secrets it registered: after
    # forget_all, the literal credential is registered again on next use.
    spec = check(headers={"Authorization": f"Token {LITERAL}"})
    first = prepared(spec, {})
    redaction.forget_all()
    assert redaction.scrub(LITERAL) == LITERAL
    assert prepared(spec, {}).headers is not first.headers
    assert redaction.scrub(LITERAL) == redaction.REDACTED


def test_a_spec_gone_is_forgotten() -> None:
    spec = check()
    prepared(spec, {})
    key = id(spec)
    assert key in http_client._FIXED
    del spec
    gc.collect()
    assert key not in http_client._FIXED
