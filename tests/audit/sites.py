"""The test domains, served for real on loopback: knotd holds their zones
and one nginx serves every host over http and https (trustme certificates
made here), told apart by name. `--connect-to` sends ports 80 and 443 to
nginx and `--dns-server` to knotd, so nothing leaves 127.0.0.1.

- good.test: apex and www redirect once to www, an SPA that answers 200 with
  its index to every path, every header right, strict SPF/DMARC and DKIM.
- good.test also serves a source map with no key in it (a low finding only).
- bad.test: a served /.env, a source map embedding a key, mixed content, a 3-hop redirect chain with a
  302, no HSTS, uncached assets, an expiring certificate, a certificate for
  the wrong name on api, staging and old (a dangling CNAME) still in DNS,
  a version-leaking Server header, insecure cookies, SPF +all and DMARC
  p=none.
- calm.test (written after the code, to try it on traps for false alarms):
  the apex is canonical and www 308s to it, unknown paths answer 200 with a
  JSON error, /config.json is a public browser config with an apiKey, /.env
  answers 403, a Cloudflare header, a DKIM key at a common selector.
- trap.test (red team): a loop on api's / alone, a /.env on cms, which has
  plain HTTP only,
  keys in the source maps of a script with a query (app.js?v=3) and of one
  whose map is not named, beside traps: a /config.json that only talks about
  passwords, a /.env login page, HSTS max-age=0 and a wildcard record.
- mixed.test (held out from the code's design): a served .git/config and
  SQL dump, an expired certificate on www, an apex that serves its own copy
  instead of redirecting, a missing api host, a launch host (docs) whose
  CNAME dangles, no DMARC.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.agent.knot import Knot, rsa_spki_b64, serve_zones, txt
from tests.support.binaries import require_binary
from tests.support.net import free_port, wait_for

FAKE_ENV = "DB_PASSWORD=fake-password-for-tests\nAPI_KEY=fake-key-not-real\n"
FAKE_AWS_KEY = "AKIA" + "ZQ7RT2LMXK4PW9JD"
"""Shaped like an AWS key id, not one; split so no scanner flags this file."""


def source_map(source: str) -> str:
    """A version-3 source map that embeds `source`."""
    return json.dumps(
        {"version": 3, "sources": ["src/app.ts"], "sourcesContent": [source], "mappings": "AAAA"}
    )


ZONES = {
    "good.test": [
        "@ A 127.0.0.1",
        "www A 127.0.0.1",
        "app A 127.0.0.1",
        "@ MX 10 mx.good.test.",
        "mx A 127.0.0.1",
        '@ CAA 0 issue "letsencrypt.org"',
        '@ TXT "v=spf1 mx -all"',
        '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"',
        f"s1._domainkey TXT {txt('v=DKIM1; k=rsa; p=' + rsa_spki_b64(2048))}",
    ],
    "bad.test": [
        "@ A 127.0.0.1",
        "www A 127.0.0.1",
        "api A 127.0.0.1",
        "staging A 127.0.0.1",
        "old CNAME old-bad.edge-cdn.test.",
        "@ MX 10 mx.bad.test.",
        "mx A 127.0.0.1",
        '@ TXT "v=spf1 mx +all"',
        '_dmarc TXT "v=DMARC1; p=none"',
    ],
    "mixed.test": [
        "@ A 127.0.0.1",
        "www A 127.0.0.1",
        "beta A 127.0.0.1",
        "docs CNAME docs-mixed.edge-cdn.test.",
        "@ MX 10 mx.mixed.test.",
        "mx A 127.0.0.1",
        '@ TXT "v=spf1 mx ~all"',
    ],
    "calm.test": [
        "@ A 127.0.0.1",
        "www A 127.0.0.1",
        "@ MX 10 mx.calm.test.",
        "mx A 127.0.0.1",
        '@ TXT "v=spf1 mx -all"',
        '_dmarc TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@calm.test"',
        f"mail._domainkey TXT {txt('v=DKIM1; k=rsa; p=' + rsa_spki_b64(2048))}",
    ],
    "trap.test": [
        "@ A 127.0.0.1",
        "www A 127.0.0.1",
        "api A 127.0.0.1",
        "cms A 127.0.0.1",
        "* A 127.0.0.1",
        "stg A 127.0.0.2",
        '@ TXT "v=spf1 -all"',
        '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@trap.test"',
        "@ MX 0 .",
    ],
    "edge-cdn.test": ["live CNAME live.edge-cdn.test."],
}

_GOOD_HEADERS = """
    server_tokens off;
    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
    add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'" always;
    add_header X-Content-Type-Options nosniff always;
    add_header Referrer-Policy strict-origin-when-cross-origin always;
    add_header X-Served-By cache-fra-etou8220 always;
"""

GOOD_INDEX = """<!doctype html><html><head><title>Good</title>
<link rel="stylesheet" href="/assets/site.css"><script src="/assets/app.js"></script>
</head><body><div id="root">Good app</div><img src="/assets/logo.png"></body></html>"""

BAD_INDEX = """<!doctype html><html><head><title>Bad</title>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js"></script>
<script src="http://cdn.bad.test/lib.js"></script>
</head><body><img src="http://images.bad.test/hero.png"><p>Bad shop</p></body></html>"""

MIXED_INDEX = """<!doctype html><html><head><title>Mixed</title>
<link rel="stylesheet" href="/css/main.css"></head><body>Mixed</body></html>"""


@dataclass(frozen=True)
class Sites:
    """The running servers and the flags that point an audit at them."""

    knot: Knot
    http_port: int
    https_port: int
    ca_file: Path
    root: Path

    def flags(self) -> list[str]:
        """--dns-server, --connect-to and --ca-file for `vantage audit`."""
        return [
            "--dns-server", self.knot.server,
            # cms.trap.test has no HTTPS at all: port 1 has no listener.
            "--connect-to", "cms.trap.test:443:127.0.0.1:1",
            "--connect-to", f":80:127.0.0.1:{self.http_port}",
            "--connect-to", f":443:127.0.0.1:{self.https_port}",
            "--ca-file", str(self.ca_file),
        ]  # fmt: skip


def _files(root: Path) -> None:
    """The web roots."""
    for site, index in (("good", GOOD_INDEX), ("bad", BAD_INDEX), ("mixed", MIXED_INDEX)):
        (root / site).mkdir(parents=True)
        (root / site / "index.html").write_text(index)
    # A public source map whose code has long random-looking strings but no key.
    sri = base64.b64encode(hashlib.sha512(b"no key in here").digest()).decode()
    good_map = source_map(f"export const sri = 'sha512-{sri}';")
    script = "console.log(1)\n//# sourceMappingURL=app.js.map\n"
    assets = {"site.css": "body{}", "app.js": script, "app.js.map": good_map, "logo.png": "png"}
    (root / "good" / "assets").mkdir()
    for name, body in assets.items():
        (root / "good" / "assets" / name).write_text(body)
    (root / "bad" / "static").mkdir()
    (root / "bad" / "static" / "site.css").write_text("body{}")
    (root / "bad" / "static" / "app.js").write_text(script)
    (root / "bad" / "static" / "app.js.map").write_text(
        source_map(f'const key = "{FAKE_AWS_KEY}";')
    )
    (root / "bad" / ".env").write_text(FAKE_ENV)
    (root / "calm").mkdir()
    (root / "calm" / "index.html").write_text(MIXED_INDEX.replace("Mixed", "Calm"))
    (root / "calm" / "config.json").write_text(
        json.dumps({"apiKey": "public-browser-key", "theme": "dark"})  # pragma: allowlist secret
    )
    (root / "calm" / "css").mkdir()
    (root / "calm" / "css" / "main.css").write_text("body{}")
    (root / "mixed" / "css").mkdir()
    (root / "mixed" / "css" / "main.css").write_text("body{}")
    (root / "mixed" / ".git").mkdir()
    (root / "mixed" / ".git" / "config").write_text("[core]\n\trepositoryformatversion = 0\n")
    (root / "mixed" / "backup.sql").write_text("-- fake\nCREATE TABLE users (id int);\n")
    _trap_files(root)


TRAP_INDEX = """<!doctype html><html><head><title>Trap</title>
<script src="/js/app.js?v=3"></script><script src="/js/vendor.js"></script></head>
<body>Trap</body></html>"""
TRAP_CONFIG = {
    "auth": {
        "passwordResetUrl": "/reset",
        "passwordPolicy": "min8-mixed",  # pragma: allowlist secret
    },
    "firebase": {
        "apiKey": "AIzaFAKEFAKEFAKEFAKE123",  # pragma: allowlist secret
        "authDomain": "trap.test",
    },  # pragma: allowlist secret
}
"""A browser config that only talks about passwords: no leak."""


def _trap_files(root: Path) -> None:
    (root / "trap" / "js").mkdir(parents=True)
    (root / "trap" / "index.html").write_text(TRAP_INDEX)
    (root / "trap" / "login.html").write_text(
        "<!-- sign in -->\n<html><body><form method=post><input name=password></form></body></html>"
    )
    (root / "trap" / "config.json").write_text(json.dumps(TRAP_CONFIG))
    (root / "trap" / ".env").write_text(FAKE_ENV)
    js = root / "trap" / "js"
    (js / "app.js").write_text("console.log(1)\n//# sourceMappingURL=app.js.map\n")
    (js / "app.js.map").write_text(source_map(f'const key = "{FAKE_AWS_KEY}";'))
    (js / "vendor.js").write_text("console.log(2)\n")
    (js / "vendor.js.map").write_text(source_map(f'const backup = "{FAKE_AWS_KEY[:-1]}X";'))


def _certs(root: Path) -> dict[str, tuple[Path, Path]]:
    """trustme certificates: good (from a CA named Let's Encrypt), bad (5
    days left), wrong-name, expired."""
    ca = trustme.CA()
    # good.test's CA goes by Let's Encrypt's name, as its CAA record says.
    acme = trustme.CA(organization_name="Let's Encrypt")
    (root / "ca.pem").write_bytes(ca.cert_pem.bytes() + acme.cert_pem.bytes())
    now = dt.datetime.now(dt.UTC)
    issued = {
        "good": acme.issue_cert("good.test", "www.good.test", "app.good.test"),
        "bad": ca.issue_cert("bad.test", "www.bad.test", "staging.bad.test", not_after=now + dt.timedelta(days=5)),
        "wrong": ca.issue_cert("shop.other.test"),
        "mixed": ca.issue_cert("mixed.test", "beta.mixed.test"),
        "calm": ca.issue_cert("calm.test", "www.calm.test"),
        "trap": ca.issue_cert("trap.test", "*.trap.test"),
        "expired": ca.issue_cert("www.mixed.test", not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=1)),
    }  # fmt: skip
    out = {}
    for name, cert in issued.items():
        crt, key = root / f"{name}.crt", root / f"{name}.key"
        cert.private_key_and_cert_chain_pem.write_to_path(str(crt))
        cert.private_key_pem.write_to_path(str(key))
        out[name] = (crt, key)
    return out


def _server(names: str, port: int, body: str, cert: tuple[Path, Path] | None = None) -> str:
    tls = f"ssl_certificate {cert[0]}; ssl_certificate_key {cert[1]};" if cert else ""
    listen = f"127.0.0.1:{port}" + (" ssl" if cert else "")
    return f"server {{ listen {listen}; server_name {names}; {tls}\n{body}\n}}\n"


def _nginx_conf(root: Path, http: int, https: int, certs: dict[str, tuple[Path, Path]]) -> str:
    good = f"root {root}/good; {_GOOD_HEADERS}"
    spa = f"""{good}
    location /assets/ {{ {_GOOD_HEADERS} add_header Cache-Control "public, max-age=31536000, immutable"; }}
    location / {{ {_GOOD_HEADERS} add_header Cache-Control no-cache;
        add_header Set-Cookie "sid=test; Path=/; Secure; HttpOnly; SameSite=Lax";
        try_files $uri /index.html; }}"""
    bad = f"""root {root}/bad; server_tokens on; location / {{
        add_header Set-Cookie "cart=1; Path=/"; try_files $uri $uri/ =404; }}
    location = /.env {{ default_type text/plain; }}"""
    calm_headers = _GOOD_HEADERS.replace(
        "X-Served-By cache-fra-etou8220", "cf-ray 8a1b2c3d4e5f-AMS"
    )
    calm = f"""root {root}/calm; {calm_headers}
    location = / {{ {calm_headers} add_header Cache-Control "private, no-cache"; try_files /index.html =404; }}
    location /css/ {{ {calm_headers} add_header Cache-Control "public, max-age=86400"; }}
    location = /config.json {{ {calm_headers} default_type application/json; }}
    location = /.env {{ return 403; }}
    location / {{ {calm_headers} default_type application/json; return 200 '{{"error": "not found"}}'; }}"""
    trap_headers = _GOOD_HEADERS.replace("max-age=31536000; includeSubDomains", "max-age=0")
    trap = f"""root {root}/trap; {trap_headers}
    location = /.env {{ {trap_headers} try_files /login.html =404; }}
    location / {{ {trap_headers} try_files $uri /index.html; }}"""
    trap_api = f"""{_GOOD_HEADERS} location = / {{ return 302 /login; }}
    location = /login {{ return 302 /; }}"""
    servers = [
        _server("good.test www.good.test", http, "return 301 https://www.good.test$request_uri;"),
        _server("app.good.test", http, "return 301 https://app.good.test$request_uri;"),
        _server("good.test", https, f"{_GOOD_HEADERS} return 301 https://www.good.test$request_uri;", certs["good"]),
        _server("www.good.test app.good.test", https, spa, certs["good"]),
        _server("bad.test", http, "return 301 http://www.bad.test$request_uri;"),
        _server("www.bad.test", http, "return 302 https://bad.test$request_uri;"),
        _server("bad.test", https, "return 301 https://www.bad.test$request_uri;", certs["bad"]),
        _server("www.bad.test staging.bad.test", https, bad, certs["bad"]),
        _server("api.bad.test", http, f"root {root}/bad;"),
        _server("api.bad.test", https, f"root {root}/bad;", certs["wrong"]),
        _server("mixed.test beta.mixed.test", http, "return 301 https://$host$request_uri;"),
        _server("www.mixed.test", http, "return 301 https://www.mixed.test/;"),
        _server("mixed.test beta.mixed.test", https, f"root {root}/mixed; server_tokens off;", certs["mixed"]),
        _server("www.mixed.test", https, f"root {root}/mixed; server_tokens off;", certs["expired"]),
        _server("calm.test www.calm.test", http, "return 301 https://calm.test$request_uri;"),
        _server("www.calm.test", https, f"{calm_headers} return 308 https://calm.test$request_uri;", certs["calm"]),
        _server("calm.test", https, calm, certs["calm"]),
        _server("trap.test www.trap.test api.trap.test", http, "return 301 https://$host$request_uri;"),
        _server("www.trap.test", https, f"{_GOOD_HEADERS} return 301 https://trap.test$request_uri;", certs["trap"]),
        _server("trap.test", https, trap, certs["trap"]),
        _server("cms.trap.test", http, f"root {root}/trap; location = /.env {{ default_type text/plain; }}"),
        _server("api.trap.test", https, trap_api, certs["trap"]),
    ]  # fmt: skip
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""{user} daemon off; worker_processes 1; pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off; default_type text/html;
  types {{ text/html html; text/css css; application/javascript js; image/png png;
           application/json map; }}
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  {"".join(servers)}
}}
"""


@contextmanager
def serve_sites(tmp: Path) -> Iterator[Sites]:
    """knotd and nginx with every test domain, until the block ends."""
    nginx = require_binary("nginx", "nginx-light")
    root = tmp / "www"
    (root / "tmp").mkdir(parents=True)
    _files(root)
    certs = _certs(root)
    http, https = free_port(), free_port()
    (root / "nginx.conf").write_text(_nginx_conf(root, http, https, certs))
    with serve_zones(tmp / "dns", ZONES) as knot:
        log = (root / "nginx.out").open("wb")
        proc = subprocess.Popen(
            [nginx, "-p", str(root), "-c", str(root / "nginx.conf")], stdout=log, stderr=log
        )
        try:
            wait_for(lambda: _listening(proc, https, root), 10, "nginx listening", every=0.02)
            yield Sites(knot, http, https, root / "ca.pem", root)
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()


def _listening(proc: subprocess.Popen[bytes], port: int, root: Path) -> bool:
    import socket  # noqa: PLC0415

    if proc.poll() is not None:
        raise RuntimeError(
            f"nginx exited {proc.returncode}: {(root / 'nginx.out').read_text()[-2000:]}"
        )
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
