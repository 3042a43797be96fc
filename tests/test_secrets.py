"""No secret in the repository: detect-secrets (pinned in pyproject) scans
every tracked file and fails on any finding that `.secrets.baseline` does
not list. The baseline allows the test fixtures' obviously fake values by
file name; after adding a new fixture, refresh it with
`detect-secrets scan --no-verify > .secrets.baseline` and review the diff."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import transient_settings

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".secrets.baseline"


def tracked_files() -> list[str]:
    """Files git tracks, plus new ones not ignored (what a commit could add)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the secret scan needs a git checkout: {exc}")
    names = [n for n in out.decode().split("\0") if n and n != BASELINE.name]
    return [n for n in names if (ROOT / n).is_file()]


def test_no_secret_outside_the_baseline() -> None:
    baseline = json.loads(BASELINE.read_text())
    allowed = {
        (name, s["hashed_secret"], s["type"])
        for name, found in baseline["results"].items()
        for s in found
    }
    settings = {k: baseline[k] for k in ("plugins_used", "filters_used")}
    # Verification asks the issuers' APIs (Slack, Stripe, AWS...) whether a
    # candidate is live: tests never leave loopback, so that filter is dropped.
    settings["filters_used"] = [
        f for f in settings["filters_used"] if not f["path"].endswith("verification_policies")
    ]
    secrets = SecretsCollection(root=str(ROOT))
    with transient_settings(settings):
        secrets.scan_files(*tracked_files(), num_processors=2)
    new = [
        f"{name}:{secret.line_number}: {secret.type}"
        for name, secret in secrets
        if (name, secret.secret_hash, secret.type) not in allowed
    ]
    assert not new, (
        "possible secrets: use obviously fake values and mark the line "
        "`# pragma: allowlist secret`, or review and run "
        "`detect-secrets scan --baseline .secrets.baseline`:\n" + "\n".join(new)
    )
