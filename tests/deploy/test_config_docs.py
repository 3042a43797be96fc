"""docs/configuration.md and docs/checks.schema.json are generated from the
config model and match it; the shipped example configs validate against
the schema, and a mistake does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
