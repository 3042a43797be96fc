"""Pure parts of the audit, table-driven: ranking, --connect-to, secret-file
signatures, caching, edge fingerprints, CAA, email alignment, masking."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from cli.audit import web_rules
from cli.audit.checks.email import _alignment
from cli.audit.checks.tls import caa_allows, caa_forbids, issuer_info
from cli.audit.command import options, run
from cli.audit.model import Finding, Report, finding, rank
from cli.audit.net import Page
from cli.audit.render import RENDERERS
from cli.audit.rules import RULES, Severity
from cli.audit.secrets_scan import mask, scan_repo, scan_text
from cli.main import _parser
from common.addresses import ConnectTo, connect_target, join_host_port, parse_connect_to


def test_rank_orders_by_severity_then_hosts_and_merges_hosts() -> None:
    found = [
        finding("web.hsts_missing", "a.test", "ev-a"),
        finding("dns.caa_missing", "a.test", "caa"),
        finding("web.hsts_missing", "b.test", "ev-b"),
        finding("web.assets_uncached", "a.test", "x"),
        finding("tls.expiring", "a.test", "3 days", severity=Severity.BLOCKER),
        finding("tls.expiring", "b.test", "10 days", severity=Severity.HIGH),
        finding("web.hsts_missing", "a.test", "ev-a"),
    ]
    ranked = rank(found)
    assert [(f.id, f.severity.value, f.hosts) for f in ranked] == [
        ("tls.expiring", "blocker", ("a.test",)),
        ("tls.expiring", "high", ("b.test",)),
        ("web.hsts_missing", "medium", ("a.test", "b.test")),
        ("web.assets_uncached", "medium", ("a.test",)),
        ("dns.caa_missing", "low", ("a.test",)),
    ]
    assert ranked[2].evidence == ("ev-a", "ev-b")


def test_every_rule_says_why_and_how_to_fix() -> None:
    for rule in RULES.values():
        assert rule.id.split(".")[0] in {
            "dns",
            "redirect",
            "tls",
            "web",
            "edge",
            "email",
            "perf",
            "repo",
        }
        assert rule.why.endswith(".") and rule.fix.endswith(".") and rule.title
    with pytest.raises(KeyError):
        finding("no.such_rule", "a.test")
    assert isinstance(finding("repo.secret_committed", "r"), Finding)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("www.x.test:443:127.0.0.1:8443", ConnectTo("www.x.test", 443, "127.0.0.1", 8443)),
        (":443:127.0.0.1:8443", ConnectTo("", 443, "127.0.0.1", 8443)),
        ("::127.0.0.1:", ConnectTo("", None, "127.0.0.1", None)),
        ("a.test:80:[::1]:8080", ConnectTo("a.test", 80, "::1", 8080)),
    ],
    ids=["full", "any-host", "any-host-any-port", "ipv6-target"],
)
def test_parse_connect_to(text: str, rule: ConnectTo) -> None:
    assert parse_connect_to(text) == rule


@pytest.mark.parametrize(
    "text", ["a.test:443:127.0.0.1", "a.test:99999:b:1", "nonsense", "a:b:c:d"], ids=str
)
def test_parse_connect_to_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT:ADDR:PORT"):
        parse_connect_to(text)


def test_connect_target_first_match_wins_and_keeps_the_rest() -> None:
    rules = [parse_connect_to("a.test:443:127.0.0.1:1"), parse_connect_to(":443:127.0.0.2:2")]
    assert connect_target(rules, "a.test", 443) == ("127.0.0.1", 1)
    assert connect_target(rules, "b.test", 443) == ("127.0.0.2", 2)
    assert connect_target(rules, "b.test", 80) == ("b.test", 80)
    assert [join_host_port(h, 443) for h in ("a.test", "::1")] == ["a.test:443", "[::1]:443"]


def _page(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Page:
    pairs = tuple((headers or {}).items())
    return Page("https://x.test/p", status, pairs, body, final_url="https://x.test/p")


SPA = _page(b"<!doctype html><html><body>app</body></html>")
_PUBLIC_CONFIG = json.dumps(
    {
        "auth": {
            "passwordResetUrl": "/reset",
            "passwordPolicy": "min8-mixed",  # pragma: allowlist secret
            "forgotPasswordText": "Forgot your password?",  # pragma: allowlist secret
            "authDomain": "x.test",
        },
        "firebase": {"apiKey": "AIzaFAKEFAKEFAKEFAKE123"},  # pragma: allowlist secret
        "stripeKey": "pk_test_FAKE123456",
        "mapbox": {"accessToken": "pk.FAKE123456"},
        "secretsPage": "${SECRETS_URL}",
    }
).encode()
"""A browser config that only talks about secrets (a false blocker before)."""


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("https://x.test/a.js?v=3", "https://x.test/a.js.map"),
        ("https://x.test/a.js?v=3\n//# sourceMappingURL=m/a.map", "https://x.test/m/a.map"),
        ("https://x.test/a.js\n//# sourceMappingURL=data:application/json;base64,e30=", None),
    ],
    ids=["guessed-without-query", "named", "inline"],
)
def test_source_map_url(script: str, expected: str | None) -> None:
    url, _, body = script.partition("\n")
    page = Page(url, 200, (("Content-Type", "application/javascript"),), body.encode())
    assert web_rules.is_script(page)
    assert web_rules.source_map_url(page) == expected


def test_secret_paths_include_backups_named_after_the_site() -> None:
    paths = web_rules.secret_paths("shop.example")
    assert {"/.env", "/.git/config", "/shop.sql", "/shop.example.zip", "/www.tar.gz"} <= set(paths)
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize(
    ("path", "page", "baseline", "exposed"),
    [
        ("/.env", _page(b"DB_PASSWORD=fake\nAPI_KEY=fake\n"), None, True),
        ("/.env", _page(b"# comment\nexport TOKEN=fake\n"), None, True),
        ("/.env", SPA, SPA, False),
        ("/.env", _page(b"DB_PASSWORD=fake\n", status=404), None, False),
        ("/.env", _page(b"Not found, sorry"), None, False),
        ("/.env", _page(b"same catch-all text"), _page(b"same catch-all text"), False),
        ("/.git/config", _page(b"[core]\n\trepositoryformatversion = 0\n"), None, True),
        ("/.git/HEAD", _page(b"ref: refs/heads/main\n"), None, True),
        ("/.git/HEAD", SPA, None, False),
        ("/config.json", _page(b'{"api": {"secret_key": "fake"}}'), None, True),
        ("/config.json", _page(b'{"theme": "dark", "apiBase": "/api"}'), None, False),
        ("/backup.zip", _page(b"PK\x03\x04rest"), None, True),
        ("/backup.sql", _page(b"-- fake\nCREATE TABLE t (id int);"), None, True),
        ("/backup.sql", SPA, None, False),
        ("/.DS_Store", _page(b"\x00\x00\x00\x01Bud1rest"), None, True),
        ("/x.sql", _page(b"INSERT INTO users VALUES (1);"), None, True),
        ("/site.tar", _page(b"\0" * 257 + b"ustar\x0000"), None, True),
        ("/www.zip", SPA, None, False),
        ("/robots.txt", _page(b"DB_PASSWORD=fake"), None, False),
        ("/config.json", _page(b'{"db": {"password": "fake-pw-1"}}'), None, True),  # pragma: allowlist secret
        ("/config.json", _page(b'{"aws": {"secretAccessKey": "fake-value"}}'), None, True),  # pragma: allowlist secret
        ("/config.json", _page(_PUBLIC_CONFIG), None, False),
        ("/.env", _page(b"<!-- login -->\n<html><form><input name=password></form></html>"), None, False),
        ("/.env.bak", _page(b"DB_PASSWORD=fake\n"), None, True),
        ("/dump.sql", _page(b"\xef\xbb\xbf<meta charset=utf-8><p>CREATE TABLE t</p>"), None, False),
        ("/.env", _page(b"Error: no such file\npath=/.env\n"), None, False),
        ("/.git/index", _page(b"DIRC\x00\x00\x00\x02rest"), None, True),
        ("/.aws/credentials", _page(b"[default]\naws_access_key_id = FAKE\n"), None, True),
        ("/.npmrc", _page(b"//registry.npmjs.org/:_authToken=fake\n"), None, True),
        ("/.htpasswd", _page(b"admin:$apr1$fake$fakefakefake\n"), None, True),
        ("/.htpasswd", _page(b"Forbidden"), None, False),
        ("/backup.7z", _page(b"7z\xbc\xaf\x27\x1crest"), None, True),
    ],
    ids=[
        "env", "env-export", "spa-index", "env-404", "plain-text", "catch-all", "git-config",
        "git-head", "git-head-spa", "config-secret", "config-public", "zip", "sql", "sql-spa",
        "ds-store", "named-sql", "tar", "zip-spa", "not-a-secret-path", "config-password",
        "config-aws-secret", "config-public-auth-words", "env-login-page", "env-bak", "sql-in-markup", "env-echoed-path", "git-index",
        "aws-credentials", "npmrc", "htpasswd", "htpasswd-forbidden", "7z",
    ],
)  # fmt: skip
def test_secret_files_are_judged_by_content(
    path: str, page: Page, baseline: Page | None, exposed: bool
) -> None:
    assert web_rules.secret_exposed(path, page, baseline) is exposed


@pytest.mark.parametrize(
    ("cache_control", "cacheable"),
    [
        (None, False),
        ("no-store", False),
        ("max-age=0", False),
        ("no-cache", False),
        ("public, max-age=31536000, immutable", True),
        ("max-age=600", True),
        ("private", False),
        ("s-maxage=60", True),
    ],
    ids=str,
)
def test_cacheable(cache_control: str | None, cacheable: bool) -> None:
    headers = {"Cache-Control": cache_control} if cache_control else {}
    assert web_rules.cacheable(_page(b"x", headers=headers)) is cacheable


@pytest.mark.parametrize(
    ("headers", "cnames", "edge"),
    [
        ({"cf-ray": "8a-AMS"}, (), "Cloudflare"),
        ({"Server": "cloudflare"}, (), "Cloudflare"),
        ({"X-Amz-Cf-Id": "abc"}, (), "Amazon CloudFront"),
        ({"X-Served-By": "cache-fra-1"}, (), "Fastly"),
        ({"Via": "1.1 varnish"}, (), "Varnish"),
        ({"Server": "nginx"}, ("d111.cloudfront.net.",), "Amazon CloudFront"),
        ({"Server": "nginx/1.22.1"}, (), None),
        ({"X-Served-By": "web-1"}, ("app.internal.test.",), None),
    ],
    ids=["cf-ray", "server-cf", "cloudfront", "fastly", "varnish", "cname", "origin", "not-edge"],
)
def test_edge(headers: dict[str, str], cnames: tuple[str, ...], edge: str | None) -> None:
    assert web_rules.edge(_page(b"", headers=headers), cnames) == edge


def test_mixed_content_and_assets() -> None:
    page = _page(
        b'<html><head><link rel="stylesheet" href="http://cdn.test/a.css">'
        b'<link rel="canonical" href="http://x.test/"><script src="/app.js"></script></head>'
        b'<body><img src="http://img.test/i.png"><a href="http://other.test/">x</a>'
        b'<form action="http://x.test/login"></form><iframe src="http://v.test/e"></iframe>'
        b"<style>body{background:url( 'http://img.test/bg.png' )} p{background:url(/ok.png)}</style>"
        b'<div style="background-image:url(http://img.test/d.png)"></div></body></html>'
    )
    assert web_rules.mixed_content(page) == [
        ("link", "http://cdn.test/a.css"),
        ("img", "http://img.test/i.png"),
        ("form", "http://x.test/login"),
        ("iframe", "http://v.test/e"),
        ("css", "http://img.test/bg.png"),
        ("css", "http://img.test/d.png"),
    ]
    assert web_rules.asset_urls(page) == [
        "http://cdn.test/a.css",
        "https://x.test/app.js",
        "http://img.test/i.png",
    ]


@pytest.mark.parametrize(
    ("records", "names", "allowed"),
    [
        ((), ("letsencrypt.org",), True),
        (('0 issue "letsencrypt.org"',), ("letsencrypt.org",), True),
        (('0 issue "pki.goog"',), ("letsencrypt.org",), False),
        (('0 issue "letsencrypt.org; validationmethods=dns-01"',), ("letsencrypt.org",), True),
        (('0 iodef "mailto:x@y.test"',), ("letsencrypt.org",), True),
    ],
    ids=["none", "allowed", "other-ca", "with-params", "iodef-only"],
)
def test_caa_allows(records: tuple[str, ...], names: tuple[str, ...], allowed: bool) -> None:
    assert caa_allows(records, names) is allowed


@pytest.mark.parametrize(
    ("records", "issuer", "forbids"),
    [
        (('0 issue "letsencrypt.org"',), "CN=R11,O=Let's Encrypt,C=US", False),
        (('0 issue "digicert.com"',), "CN=R11,O=Let's Encrypt,C=US", True),
        (('0 issue "letsencrypt.org"',), "OU=Testing CA,O=trustme v1.2.1", True),
        (('0 issue "ca.internal.test"',), "OU=Testing CA,O=trustme v1.2.1", False),
        (('0 issue ";"',), "OU=Testing CA,O=trustme v1.2.1", True),
        ((), "OU=Testing CA,O=trustme v1.2.1", False),
    ],
    ids=["allowed", "other-ca", "unknown-issuer-known-ca", "unknown-ca", "none-allowed", "no-caa"],
)
def test_caa_forbids(records: tuple[str, ...], issuer: str, forbids: bool) -> None:
    assert caa_forbids(records, issuer) is forbids


def test_issuer_info() -> None:
    assert issuer_info("CN=R11,O=Let's Encrypt,C=US") == (("letsencrypt.org",), True)
    assert issuer_info("CN=DigiCert Global G2,O=DigiCert Inc,C=US") == (("digicert.com",), False)
    assert issuer_info("O=trustme v1.2.1") is None


def test_provider_alignment() -> None:
    google_mx = ("1 aspmx.l.google.com.",)
    spf_ok = ("v=spf1 include:_spf.google.com ~all",)
    spf_other = ("v=spf1 include:sendgrid.net ~all",)
    assert _alignment("x.test", google_mx, spf_ok, ()) == []
    [item] = _alignment("x.test", google_mx, spf_other, ())
    assert item.id == "email.provider_not_in_spf" and "Google Workspace (MX)" in item.evidence[0]
    [item] = _alignment("x.test", (), spf_other, ("selector1",))
    assert "Microsoft 365 (DKIM selector)" in item.evidence[0]


def test_mask_hides_the_secret() -> None:
    secret = "fake-" + "q" * 30
    assert mask(secret) == "fake********"
    assert mask("short-fake") == "********"


def test_docs_list_every_finding_id_with_its_severity() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "audit.md").read_text()
    missing = [r.id for r in RULES.values() if f"| `{r.id}` | {r.severity.value} |" not in docs]
    assert missing == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad domain.test"], "bad domain"),
        (["x.test", "--connect-to", "x.test:443"], "bad --connect-to"),
        (["x.test", "--dns-server", "ns.x.test"], "bad server"),
        (["x.test", "--samples", "0"], "--samples 0"),
        (["x.test", "--dkim-selectors", "s1,bad selector"], "bad selector"),
        (["x.test", "--repo", "/nonexistent/repo"], "not a directory"),
        (["x.test", "--out", "/nonexistent/r.html"], "no folder /nonexistent"),
        (["x.test", "--timeout", "0"], "--timeout 0"),
        (["x.test", "--timeout", "-1"], "--timeout -1"),
    ],
    ids=["domain", "connect-to", "dns-server", "samples", "selector", "repo", "out", "timeout-0",
         "timeout-negative"],
)  # fmt: skip
def test_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Through the subcommand, not main(): main() configures logging for the
    # whole process, which other tests capture.
    assert run(_parser().parse_args(["audit", *args])) == 2
    assert message in capsys.readouterr().err


def test_a_clean_report_ships_in_every_format() -> None:
    report = Report(
        domain="x.test", generated_at="2026-11-30T00:00:00Z", duration_seconds=0.1, findings=()
    )
    assert report.verdict == "ship" and report.exit_code == 0
    documents = {name: render(report) for name, render in RENDERERS.items()}
    assert documents["text"].startswith("vantage audit x.test: SHIP: 0 blockers, 0 high")
    assert '<div class="verdict ship" id="verdict">Ship: no blockers</div>' in documents["html"]
    assert "### Blockers (0)\n\n- none" in documents["md"]
    schema = json.loads(
        (Path(__file__).parents[2] / "docs" / "audit-report.schema.json").read_text()
    )
    jsonschema.validate(json.loads(documents["json"]), schema)


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ('const passwordLabel = "Password";', False),  # pragma: allowlist secret
        ('firebase = {apiKey: "AIzaSyD-public-browser-key-1"}', False),  # pragma: allowlist secret
        ('const stripe = {publishableKey: "pk_live_51Hfake00"}', False),
        ('const apiKey = "d41d8cd98f00b204e9800998ecf8427e";', False),  # pragma: allowlist secret
        ('placeholder: "Enter your password"', False),
        ('const DB_PASSWORD = "fake2fake2fake2";', True),  # pragma: allowlist secret
        ('clientSecret: "fake-client-secret-0042"', True),  # pragma: allowlist secret
        ('const key = "' + "AKIA" + 'ZQ7RT2LMXK4PW9JD";', True),
        ('const passwordInputId = "password-input-1";', False),  # pragma: allowlist secret
        ('const SECRET_HEADER = "x-secret-header-v1";', False),  # pragma: allowlist secret
        ('auth: {password: "fake-pw-1234"}', True),  # pragma: allowlist secret
    ],
    ids=["label", "firebase", "publishable", "api-key-name", "placeholder", "password",
         "client-secret", "aws", "element-id", "header-name", "nested-password"],
)  # fmt: skip
def test_credentials_in_browser_code(line: str, found: bool) -> None:
    assert bool(scan_text(line)) is found


def test_an_idn_domain_is_audited_in_its_dns_form_and_routes_default_to_home() -> None:
    parsed = options(_parser().parse_args(["audit", "Bücher.Test.", "--routes", ""]))
    assert parsed.domain == "xn--bcher-kva.test"
    assert parsed.routes == ("/",)


def _commit_all(repo: Path) -> None:
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.test", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "commit"], check=True)


def test_test_settings_and_reviewed_env_files_are_no_committed_env_file(tmp_path: Path) -> None:
    # .env.test and a fixture folder's .env hold test settings; a .env the
    # repository's baseline reviewed is allowed; a plain .env is a blocker.
    for name in (".env.test", "tests/fixtures/.env", "config/.env", "deploy/.env"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("DEBUG=true\n")
    listed = {"type": "Secret Keyword", "hashed_secret": "0" * 40, "is_secret": False}
    baseline = {"results": {"config/.env": [listed]}}
    (tmp_path / ".secrets.baseline").write_text(json.dumps(baseline))
    _commit_all(tmp_path)
    assert [(h.file, h.rule) for h in scan_repo(tmp_path)] == [
        ("deploy/.env", "repo.env_file_committed")
    ]


def test_random_strings_on_lines_that_name_no_secret_are_not_committed_secrets(
    tmp_path: Path,
) -> None:
    # A clean repository pins commits and SRI digests; only the value whose
    # line names a key is a candidate (all values here are made up).
    sha = hashlib.sha1(b"a commit").hexdigest()  # shaped like a commit id
    sri = "sha384-" + base64.b64encode(hashlib.sha384(b"a script").digest()).decode()
    (tmp_path / "ci.yml").write_text(f"- uses: actions/checkout@{sha}\n")
    (tmp_path / "index.html").write_text(f'<script src="/a.js" integrity="{sri}"></script>\n')
    (tmp_path / "settings.py").write_text(f'SIGNING_KEY = "{sha[::-1]}"\n')
    _commit_all(tmp_path)
    assert [(h.file, h.kind) for h in scan_repo(tmp_path)] == [
        ("settings.py", "Hex High Entropy String")
    ]
