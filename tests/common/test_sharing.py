"""One copy of each repeated value in loaded check models
(`common.config.sharing`): what is shared, what never is, and that a shared
config means exactly what the unshared one did."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.config import parse_config
from common.config.base import SloSpec
from common.config.http import HttpCheck
from common.config.sharing import Sharing

CONFIG = """\
defaults: {interval: 30s, timeout: 5s, regions: [eu-west, us-east]}
checks:
  - {name: a, type: http, url: 'http://127.0.0.1:9/', slo: {error_ratio: 0.25}}
  - {name: b, type: http, url: 'http://127.0.0.1:9/', slo: {error_ratio: 0.25}}
  - name: c
    type: http
    url: 'http://127.0.0.1:9/c'
    slo: {error_ratio: 0.5}
    labels: {team: web}
    expect:
      status: [200, 3xx]
      headers: {x-a: {regex: '^a'}}
      json: [{path: a.b, equals: -0.0}]
  - name: d
    type: http
    url: 'http://127.0.0.1:9/c'
    expect:
      status: [200, 3xx]
      headers: {x-a: {regex: '^a'}}
      json: [{path: a.b, equals: 0.0}]
  - {name: t, type: tcp, target: '127.0.0.1:25', regions: [ap-south]}
  - {name: r, type: dns, query_name: example.com, record: A, timeout: 5s}
  - {name: h, type: heartbeat, period: 5m, grace: 1m}
"""


def test_a_shared_config_holds_exactly_the_values_of_an_unshared_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = parse_config(CONFIG, "checks.yaml")
    monkeypatch.setattr(Sharing, "checks", lambda self, models: tuple(models))
    alone = parse_config(CONFIG, "checks.yaml")
    assert alone.checks[0].slo is not alone.checks[1].slo  # really unshared
    assert shared == alone
    assert [repr(c) for c in shared.checks] == [repr(c) for c in alone.checks]
    assert [c.model_fields_set for c in shared.checks] == [c.model_fields_set for c in alone.checks]


def test_equal_values_of_different_checks_are_one_object() -> None:
    a, b, c, d, t, *_ = parse_config(CONFIG, "checks.yaml").checks
    assert isinstance(a, HttpCheck) and isinstance(b, HttpCheck)
    assert isinstance(c, HttpCheck) and isinstance(d, HttpCheck)
    assert a.slo is b.slo
    assert a.slo is not c.slo
    assert a.regions is b.regions is c.regions
    assert a.interval is t.interval  # one 30.0 for every check
    assert a.url is b.url
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    assert a.expect is b.expect
    assert a.labels is b.labels is d.labels  # {} once
    assert c.labels == {"team": "web"}
    assert c.expect is not d.expect  # equal but for the sign of a zero
    assert repr(c.expect.json_[0].equals) == "-0.0"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (0.0, -0.0),
        (1.0, 1),
        (1, True),
        ((1.0,), (1,)),
        ("x", b"x"),
        (SloSpec(error_ratio=0.5), SloSpec(error_ratio=0.25)),
    ],
    ids=["signed-zero", "float-int", "int-bool", "tuples-of-equal-numbers", "str-bytes", "models"],
)
def test_values_equal_by_eq_but_not_the_same_setting_stay_apart(left: Any, right: Any) -> None:
    sharing = Sharing()
    first = sharing.value(left)
    second = sharing.value(right)
    assert repr(first) == repr(left)
    assert repr(second) == repr(right)
    assert type(second) is type(right)


@pytest.mark.parametrize(
    "value",
    [0.5, (1.0, "a"), "eu-west", SloSpec(error_ratio=0.25)],
    ids=["float", "tuple", "str", "model"],
)
def test_an_equal_value_seen_again_is_the_first_object(value: Any) -> None:
    sharing = Sharing()
    first = sharing.value(value)
    again = sharing.value(copy.deepcopy(value))
    assert again is first
    assert again == value


def test_a_copy_of_a_shared_model_changes_only_the_copy() -> None:
    a, b, *_ = parse_config(CONFIG, "checks.yaml").checks
    assert isinstance(a, HttpCheck)
    changed = a.model_copy(update={"runbook_url": "http://127.0.0.1/rb"})
    changed.model_fields_set.add("runbook_url")
    assert "runbook_url" not in a.model_fields_set
    assert "runbook_url" not in b.model_fields_set


def test_policies_of_checks_with_equal_settings_share_them() -> None:
    from collector.alerting.policies import check_policy, policies  # noqa: PLC0415  # collector-only

    config = parse_config(CONFIG, "checks.yaml")
    probed, beats = policies(config)
    a, b, c = probed[:3]
    assert a.slo is b.slo and a.flap is b.flap is c.flap
    assert a.slo is not c.slo
    assert c.slo.error_ratio == 0.5
    assert c.labels == {"team": "web"}
    assert [check_policy(check) for check in config.checks if check.probed] == probed
    assert [p.name for p in beats] == ["h"]
