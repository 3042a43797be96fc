"""docs/configuration.md and docs/checks.schema.json are generated from the
config model and match it; the shipped example configs validate against
the schema, and a mistake does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from collector.alerting.config import alerting_section
from common.config import ConfigError, parse_config
from deploy.config_docs import MARKDOWN, SCHEMA, checks_schema, markdown

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [
    "deploy/examples/checks.yaml",
    "deploy/compose/checks.yaml",
    "deploy/k8s/base/checks.yaml",
]


def test_generated_docs_match_the_config_model() -> None:
    hint = "run `python -m deploy.config_docs` and commit the result"
    assert MARKDOWN.read_text() == markdown(), f"docs/configuration.md drifted: {hint}"
    assert json.loads(SCHEMA.read_text()) == checks_schema(), (
        f"docs/checks.schema.json drifted: {hint}"
    )


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--schemafile", str(SCHEMA), str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("example", EXAMPLES)
def test_shipped_configs_validate_against_the_schema(example: str) -> None:
    done = _check(ROOT / example)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("checks: [{name: a, type: http, url: 'http://x/', interval: soon}]", "soon"),
        ("checks: [{name: a, type: htp, url: 'http://x/'}]", "checks"),
        ("checks: [{name: a, type: http, url: 'http://x/', timout: 5s}]", "checks"),
        ("defualts: {interval: 30s}\nchecks: []", "defualts"),
    ],
    ids=["bad-duration", "unknown-type", "unknown-field", "unknown-section"],
)
def test_mistakes_fail_the_schema(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    done = _check(path)
    assert done.returncode == 1
    assert complaint in done.stdout + done.stderr


_RECEIVER = "  receivers:\n    - {name: pager, type: webhook, url: 'http://127.0.0.1:9/'}\n"
_HOME = "checks:\n  - {name: home, type: http, url: 'http://127.0.0.1:8080/'}\n"


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        (
            _HOME + "alerting:\n  route:\n    receivers: [pager]\n"
            "    routes: [{match: {severity: critical}, receivers: pager}]\n" + _RECEIVER,
            True,
        ),
        (_HOME + "alerting:\n  route: {receivers: pager, group_by: check}\n" + _RECEIVER, True),
        (
            _HOME + "alerting:\n  route: {receivers: pager}\n" + _RECEIVER + "  silences:\n"
            "    - {matchers: {check: home}, weekly: {days: sat, start: '02:00', end: '04:00'}}\n",
            True,
        ),
        (
            "checks:\n  - {name: home, type: http, url: 'http://127.0.0.1:8080/',"
            " expect: {body_contains: Welcome, body_regex: '^<html'}}\n",
            True,
        ),
        (_HOME + "alerting:\n  route: {receivers: 5}\n" + _RECEIVER, False),
        (
            "checks:\n  - {name: home, type: http, url: 'http://127.0.0.1:8080/',"
            " regions: eu-west}\n",
            False,
        ),
    ],
    ids=[
        "child-route-one-receiver",
        "root-one-receiver-one-group-label",
        "one-silence-day",
        "one-body-needle-and-regex",
        "receiver-not-a-name",
        "regions-take-no-lone-string",
    ],
)
def test_the_schema_accepts_what_the_model_accepts(text: str, accepted: bool) -> None:
    """A list written as one string (`one_or_more`) is valid to both, and a
    list that takes no lone string is invalid to both."""
    try:
        parse_config(text, "checks.yaml", {"alerting": alerting_section(None)})
    except ConfigError:
        model_ok = False
    else:
        model_ok = True
    schema_ok = jsonschema.Draft202012Validator(checks_schema()).is_valid(yaml.safe_load(text))
    assert (model_ok, schema_ok) == (accepted, accepted)
