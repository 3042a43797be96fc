"""The text-format writer: the same bytes as prometheus_client, escaping,
created series, and the mistakes it refuses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import prometheus_client
import pytest

from common import exposition

Ops = Callable[[Any], None]
"""Builds metrics on a registry with a module's Counter and Gauge, then uses
them; run once against each library."""


def _labelled(lib: Any) -> Callable[[Any], None]:
    def ops(registry: Any) -> None:
        probes = lib.Counter("probes_total", "Probes run.", ["type", "outcome"], registry=registry)
        probes.labels("http", "success").inc()
        probes.labels("http", "failure").inc(3)
        probes.labels("dns", "success").inc(0.5)
        info = lib.Gauge(
            "config_info", "Version\\in force,\nquoted.", ["version"], registry=registry
        )
        info.labels("old").set(1)
        info.clear()
        info.labels('a"b\\c\nd').set(1)
        lib.Gauge("empty", "No series yet.", ["x"], registry=registry)
        lib.Counter("unused_total", "Never incremented.", ["x"], registry=registry)

    return ops


def _plain(lib: Any) -> Callable[[Any], None]:
    def ops(registry: Any) -> None:
        lib.Counter("reconnects_total", "Reconnects.", registry=registry).inc(2)
        lib.Counter("drops", "No _total in the name.", registry=registry)
        checks = lib.Gauge("checks", "Checks.", registry=registry)
        checks.set(1000)
        for value, name in [(1795816904.884589, "big"), (-2.5, "negative"), (1e-7, "tiny")]:
            lib.Gauge(name, "A value.", registry=registry).set(value)
        lib.Gauge("inf", "Infinite.", registry=registry).set(float("inf"))
        lib.Gauge("nan", "Not a number.", registry=registry).set(float("nan"))

    return ops


@pytest.mark.parametrize("scenario", [_labelled, _plain], ids=["labelled", "unlabelled"])
@pytest.mark.parametrize("created", [True, False], ids=["created", "no-created"])
def test_output_matches_prometheus_client(
    scenario: Callable[[Any], Ops], created: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1795816904.125)
    theirs = prometheus_client.CollectorRegistry()
    if not created:
        monkeypatch.setattr(prometheus_client.metrics, "_use_created", False)
    scenario(prometheus_client)(theirs)
    ours = exposition.Registry(created_series=created)
    scenario(exposition)(ours)
    assert ours.render().decode() == prometheus_client.generate_latest(theirs).decode()
    assert exposition.CONTENT_TYPE == prometheus_client.CONTENT_TYPE_LATEST


@pytest.mark.parametrize(
    ("setting", "created"),
    [(None, True), ("true", False), ("1", False), ("T", False), ("false", True)],
    ids=["unset", "true", "one", "upper-t", "false"],
)
def test_created_series_follow_prometheus_client_switch(
    setting: str | None, created: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if setting is None:
        monkeypatch.delenv("PROMETHEUS_DISABLE_CREATED_SERIES", raising=False)
    else:
        monkeypatch.setenv("PROMETHEUS_DISABLE_CREATED_SERIES", setting)
    registry = exposition.Registry()
    exposition.Counter("c_total", "C.", registry=registry)
    assert ("c_created" in registry.render().decode()) is created


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda r: exposition.Gauge("bad-name", "x", registry=r), "invalid metric name"),
        (lambda r: exposition.Gauge("g", "x", ["le-x"], registry=r), "invalid label names"),
        (lambda r: exposition.Gauge("g", "x", ["a", "a"], registry=r), "invalid label names"),
        (lambda r: exposition.Gauge("g", "x", ["a"], registry=r).labels(), "takes labels"),
        (lambda r: exposition.Gauge("g", "x", registry=r).labels("a"), "takes labels"),
        (lambda r: exposition.Gauge("g", "x", ["a"], registry=r).set(1), "has labels"),
        (lambda r: exposition.Counter("c", "x", registry=r).inc(-1), "non-negative"),
        (
            lambda r: [exposition.Gauge("g", "x", registry=r) for _ in range(2)],
            "duplicate metric g",
        ),
    ],
    ids=[
        "metric-name",
        "label-name",
        "label-twice",
        "missing-label",
        "unexpected-label",
        "set-without-labels",
        "counter-down",
        "duplicate",
    ],
)
def test_mistakes_are_refused(make: Callable[[exposition.Registry], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(exposition.Registry())
