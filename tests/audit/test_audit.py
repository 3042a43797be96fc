"""`vantage audit` against real servers on loopback: knotd serves the zones,
nginx the hosts over TLS with trustme certificates (tests/audit/sites.py).
The good domain ships with no false blocker, the bad one lists every planted
fault with its id and severity, a third domain with another mix of faults
checks that the rules generalise, and the written checks.yaml validates and
agrees with `vantage smoke`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from detect_secrets.core.potential_secret import PotentialSecret

from cli.audit.command import options
from cli.audit.model import Report
from cli.audit.render import RENDERERS
from cli.audit.run import audit
from cli.main import _parser
from tests.audit.sites import FAKE_AWS_KEY, Sites, serve_sites
from tests.support.binaries import require_binary
from tests.support.procs import ROOT

pytestmark = pytest.mark.integration

GOOD = ["good.test", "--subdomains", "app", "--samples", "3"]
BAD = ["bad.test", "--subdomains", "api", "--stale", "staging", "--samples", "3"]
HELD_OUT = ["mixed.test", "--subdomains", "api,docs", "--stale", "beta", "--samples", "3"]

BAD_FAULTS = {
    ("web.secret_file_exposed", "blocker", "www.bad.test"),
    ("tls.expiring", "blocker", "www.bad.test"),
    ("tls.hostname_mismatch", "blocker", "api.bad.test"),
    ("dns.stale_host_resolves", "high", "staging.bad.test"),
    ("dns.dangling_cname", "high", "old.bad.test"),
    ("web.mixed_content", "high", "www.bad.test"),
    ("redirect.http_not_https", "high", "api.bad.test"),
    ("email.spf_weak", "high", "bad.test"),
    ("redirect.chain_too_long", "medium", "bad.test"),
    ("web.hsts_missing", "medium", "www.bad.test"),
    ("web.assets_uncached", "medium", "www.bad.test"),
    ("web.security_headers_missing", "medium", "www.bad.test"),
    ("web.cookie_insecure", "medium", "www.bad.test"),
    ("edge.none", "medium", "www.bad.test"),
    ("email.dmarc_weak", "medium", "bad.test"),
    ("email.dkim_missing", "medium", "bad.test"),
    ("redirect.not_permanent", "low", "www.bad.test"),
    ("web.version_leak", "low", "www.bad.test"),
    ("email.dmarc_no_reports", "low", "bad.test"),
}
"""(id, severity, a host it must name) for every fault planted in bad.test."""


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    with serve_sites(tmp_path_factory.mktemp("sites")) as running:
        yield running


def vantage(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": f"{ROOT}:{ROOT}/proto"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def run_audit(sites: Sites, args: list[str]) -> Report:
    parsed = _parser().parse_args(["audit", *args, *sites.flags()])
    report, _ = asyncio.run(audit(options(parsed)))
    return report


def triples(report: Report) -> set[tuple[str, str, str]]:
    return {(f.id, f.severity.value, h) for f in report.findings for h in f.hosts}


def test_good_domain_ships_with_no_false_finding(sites: Sites, tmp_path: Path) -> None:
    out, checks = tmp_path / "good.json", tmp_path / "checks.yaml"
    done = vantage("audit", *GOOD, *sites.flags(), "--format", "json", "--out", str(out),
                   "--write-checks", str(checks))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    jsonschema.validate(data, json.loads((ROOT / "docs" / "audit-report.schema.json").read_text()))
    assert data["verdict"] == "ship" and data["checklist"]["blockers"] == []
    # Only a low: the SPA's 200-for-everything is no leak, its source map
    # holds no key, and its ACME issuer is the one CAA allows.
    assert {(f["id"], f["severity"]) for f in data["findings"]} == {
        ("web.source_map_exposed", "low"),
    }
    assert data["canonical_host"] == "www.good.test"
    assert {h["name"]: h["edge"] for h in data["hosts"]}["www.good.test"] == "Fastly"
    # The stapling handshake ran on every host (nginx has no OCSP response to staple).
    assert [h["tls"]["ocsp_stapled"] for h in data["hosts"]] == [False, False, False]
    assert vantage("validate", str(checks)).returncode == 0
    smoke = vantage("smoke", str(checks), *connect_to(sites))
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr


def connect_to(sites: Sites) -> list[str]:
    flags = sites.flags()
    return [v for i, v in enumerate(flags) if "--connect-to" in flags[max(i - 1, 0) : i + 1]]


def test_bad_domain_lists_every_planted_fault(sites: Sites, tmp_path: Path) -> None:
    out = tmp_path / "bad.json"
    done = vantage("audit", *BAD, *sites.flags(), "--format", "json", "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FIX FIRST: 3 blockers" in done.stdout
    data = json.loads(out.read_text())
    found = {(f["id"], f["severity"], h) for f in data["findings"] for h in f["hosts"]}
    assert BAD_FAULTS - found == set()
    exposed = next(f for f in data["findings"] if f["id"] == "web.secret_file_exposed")
    assert (
        "https://www.bad.test/static/app.js.map: AWS Access Key AKIA********" in exposed["evidence"]
    )
    assert FAKE_AWS_KEY not in done.stdout + out.read_text()
    blockers = {f["id"] for f in data["findings"] if f["severity"] == "blocker"}
    assert blockers == {"web.secret_file_exposed", "tls.expiring", "tls.hostname_mismatch"}
    ranks = [("blocker", "high", "medium", "low").index(f["severity"]) for f in data["findings"]]
    assert ranks == sorted(ranks)


def test_held_out_domain_gets_every_blocker_and_no_false_one(sites: Sites) -> None:
    report = run_audit(sites, HELD_OUT)
    assert report.exit_code == 1
    assert {f.id for f in report.blockers} == {"web.secret_file_exposed", "tls.expired"}
    exposed = next(f for f in report.blockers if f.id == "web.secret_file_exposed")
    assert {"mixed.test", "www.mixed.test", "beta.mixed.test"} <= set(exposed.hosts)
    assert any("/.git/config" in e for e in exposed.evidence)
    assert any("/backup.sql" in e for e in exposed.evidence)
    assert {
        ("tls.expired", "blocker", "www.mixed.test"),
        ("dns.host_missing", "high", "api.mixed.test"),
        ("dns.dangling_cname", "high", "docs.mixed.test"),
        ("dns.stale_host_resolves", "high", "beta.mixed.test"),
        ("email.dmarc_missing", "high", "mixed.test"),
        ("redirect.not_canonical", "medium", "mixed.test"),
        ("redirect.path_dropped", "medium", "www.mixed.test"),
    } <= triples(report)
    # The dangling launch host is a DNS finding, not a TLS or web one.
    assert {i for i, _, h in triples(report) if h == "docs.mixed.test"} == {"dns.dangling_cname"}


def test_second_held_out_domain_has_no_false_alarm(sites: Sites) -> None:
    report = run_audit(sites, ["calm.test", "--samples", "3", "--routes", "/,/api/health"])
    assert report.exit_code == 0 and report.canonical == "calm.test"
    # A JSON catch-all, a public apiKey and a 403 on /.env are no leak; the
    # zone really has no CAA, and the DKIM key at `mail` is found.
    assert {(f.id, f.severity.value) for f in report.findings} == {
        ("tls.manual_renewal", "low"),
        ("dns.caa_missing", "low"),
    }
    assert {h.name: h.edge for h in report.hosts}["calm.test"] == "Cloudflare"


def test_red_team_domain_gets_its_blockers_and_none_from_the_traps(sites: Sites) -> None:
    report = run_audit(sites, ["trap.test", "--subdomains", "api,cms", "--samples", "2"])
    assert {(f.id, tuple(f.hosts)) for f in report.blockers} == {
        ("redirect.loop", ("api.trap.test",)),  # / -> /login -> / on api only
        ("web.secret_file_exposed", ("trap.test", "cms.trap.test")),
        ("tls.unavailable", ("cms.trap.test",)),
    }
    [exposed] = [f for f in report.blockers if f.id == "web.secret_file_exposed"]
    # Both maps: the one a script with a query names, and the unnamed one;
    # and the .env that cms serves over plain HTTP, having no HTTPS.
    assert sorted(e.split(": ")[0].split()[-1] for e in exposed.evidence) == [
        "http://cms.trap.test/.env",
        "https://trap.test/js/app.js.map",
        "https://trap.test/js/vendor.js.map",
    ]
    # The wildcard answers every old name but stg, which has its own record;
    # max-age=0 is no HSTS; a domain that sends no mail needs no DKIM.
    assert {("dns.stale_host_resolves", "high", "stg.trap.test"),
            ("web.hsts_missing", "medium", "trap.test")} <= triples(report)  # fmt: skip
    assert not {f.id for f in report.findings} & {"web.host_down", "email.dkim_missing"}
    assert [f.hosts for f in report.findings if f.id == "dns.stale_host_resolves"] == [
        ("stg.trap.test",)
    ]


def test_all_four_formats(sites: Sites, tmp_path: Path) -> None:
    report = run_audit(sites, BAD)
    documents = {name: render(report) for name, render in RENDERERS.items()}
    for text in documents.values():
        assert "web.secret_file_exposed" in text and "dns.dangling_cname" in text
    assert documents["text"].startswith("vantage audit bad.test: FIX FIRST: 3 blockers")
    assert "- [ ] **Secret file served from the web**" in documents["md"]
    assert "| bad.test | apex | 127.0.0.1 |" in documents["md"]
    html = documents["html"]
    assert 'class="verdict fix"' in html and "Fix first: 3 blockers" in html
    assert html.count('type="checkbox"') == len(report.findings)
    # Self-contained: nothing to fetch, nothing to run.
    assert "<script" not in html and "<link" not in html and " src=" not in html
    schema = json.loads((ROOT / "docs" / "audit-report.schema.json").read_text())
    jsonschema.validate(json.loads(documents["json"]), schema)


def test_html_report_renders_in_chromium(sites: Sites, tmp_path: Path) -> None:
    chromium = require_binary("chromium", "chromium")
    report = run_audit(sites, BAD)
    page = tmp_path / "report.html"
    page.write_text(RENDERERS["html"](report))
    shots = ROOT / ".tmp" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "audit-bad.png"
    shot.unlink(missing_ok=True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}"]  # fmt: skip
    done = subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and shot.stat().st_size > 20_000, done.stderr[-2000:]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert 'id="verdict">Fix first: 3 blockers</div>' in dom.stdout


EXPECTED_SMOKE_FAILURES = {
    "http-bad.test": "redirect.chain_too_long",
    "http-api.bad.test": "redirect.http_not_https",
    "tls-bad.test": "tls.expiring",
    "tls-www.bad.test": "tls.expiring",
    "tls-api.bad.test": "tls.hostname_mismatch",
    "site-www.bad.test": "web.hsts_missing",
    "site-api.bad.test": "web.hsts_missing",
    "stale-staging.bad.test": "dns.stale_host_resolves",
    "stale-old.bad.test": "dns.stale_host_resolves",
    "gone-www.bad.test-.env": "web.secret_file_exposed",
    "gone-api.bad.test-.env": "web.secret_file_exposed",
    "gone-www.bad.test-static-app.js.map": "web.secret_file_exposed",  # the map with a key
    "gone-api.bad.test-static-app.js.map": "web.secret_file_exposed",
    "email-bad.test": "email.spf_weak",
}
"""Each check the written file fails on bad.test, and the finding it watches."""


def test_written_checks_validate_and_smoke_agrees(sites: Sites, tmp_path: Path) -> None:
    checks, out = tmp_path / "checks.yaml", tmp_path / "bad.json"
    done = vantage("audit", *BAD, *sites.flags(), "--format", "json", "--out", str(out),
                   "--write-checks", str(checks))  # fmt: skip
    assert done.returncode == 1
    assert vantage("validate", str(checks)).returncode == 0
    smoke = vantage("smoke", str(checks), *connect_to(sites))
    assert smoke.returncode == 1
    rows = [line.split() for line in smoke.stdout.splitlines()[1:] if line and line[0] != " "]
    failed = {row[0] for row in rows if len(row) > 1 and row[1] == "FAIL"}
    assert failed == set(EXPECTED_SMOKE_FAILURES), smoke.stdout
    found = {f["id"] for f in json.loads(out.read_text())["findings"]}
    assert set(EXPECTED_SMOKE_FAILURES.values()) <= found


def _repo(root: Path) -> tuple[Path, list[str]]:
    """A git repo with a fake key in a committed .env, a private key that a
    later commit deleted, an uncommitted token, and a value the repo's own
    detect-secrets baseline marks reviewed; returns it and the raw secrets."""
    repo = root / "app"
    repo.mkdir()
    fake_key = "AKIA" + "ZQ7RT2LMXK4PW9JD"  # not a real key; split so no scanner flags this file
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.test", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    reviewed = "fake-but-reviewed-1234"
    (repo / ".env").write_text(f"AWS_ACCESS_KEY_ID={fake_key}\n")
    (repo / "deploy.key").write_bytes(pem)
    (repo / "settings.py").write_text(f'password = "{reviewed}"\n')
    listed = {"filename": "settings.py", "type": "Secret Keyword", "line_number": 1}
    listed["hashed_secret"] = PotentialSecret.hash_secret(reviewed)
    (repo / ".secrets.baseline").write_text(json.dumps({"results": {"settings.py": [listed]}}))
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    subprocess.run([*git, "rm", "-q", "deploy.key"], check=True)
    subprocess.run([*git, "commit", "-qm", "remove the key"], check=True)
    token = "ghp_" + "Zq7Rt2LmXk4Pw9JdZq7Rt2LmXk4Pw9JdZq7R"  # shaped like a GitHub token, not one
    (repo / "local.py").write_text(f'TOKEN = "{token}"\n')
    body = pem.decode().splitlines()[1]
    return repo, [fake_key, body, token]


def test_repo_secrets_are_blockers_and_masked_everywhere(sites: Sites, tmp_path: Path) -> None:
    repo, raw = _repo(tmp_path)
    report = run_audit(sites, [*GOOD, "--repo", str(repo)])
    assert report.exit_code == 1
    by_id = {f.id: f for f in report.blockers}
    assert set(by_id) == {
        "repo.secret_committed",
        "repo.env_file_committed",
        "repo.private_key_committed",
    }
    assert any(
        e.startswith(".env:1 @ ") and "AKIA********" in e
        for e in by_id["repo.secret_committed"].evidence
    )
    assert by_id["repo.private_key_committed"].evidence[0].startswith("deploy.key:1 @ ")
    evidence = by_id["repo.secret_committed"].evidence
    assert any(e.startswith("local.py:1 @ working tree: GitHub Token ") for e in evidence)
    assert not [e for e in evidence if "settings.py" in e or "secrets.baseline" in e]
    for render in RENDERERS.values():
        document = render(report)
        assert not [s for s in raw if s in document]
