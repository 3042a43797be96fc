"""Pure readings of web pages: links in HTML, secret-file signatures,
edge (CDN/WAF) fingerprints, and Cache-Control. No I/O.

A secret file is judged by what the body is, never by the status alone: an
SPA that answers 200 with its index to every path is not a finding.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

from cli.audit.net import Page
from cli.audit.secrets_scan import PUBLIC_KEYS, SECRET_NAME, scan_text

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=", re.M)
_ENV_NAME = re.compile(r"^\s*(?:export\s+)?[A-Z][A-Z0-9_]*\s*=")
# A JSON key names a secret when it ends like one (`SECRET_NAME`): `passwordResetUrl`
# or `authDomain` only talk about one, and `apiKey` alone is no secret: browser
# configs (Firebase, maps) carry public keys by design. Nor is every value one:
_NOT_A_VALUE = re.compile(r"^(/|https?://|\$\{|<|%|\{\{)|\s|^(true|false|null|none)$", re.I)
_SQL = re.compile(
    r"\b(CREATE TABLE|INSERT INTO|DROP TABLE)\b|^-- (MySQL|PostgreSQL) .*dump", re.I | re.M
)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)""", re.I)
_MAP_COMMENT = re.compile(rb"[#@]\s*sourceMappingURL=(\S+)\s*$", re.M)


def _looks_html(page: Page) -> bool:
    # Markup of any kind (`<!doctype`, `<!-- build -->`, `<meta`, `<div`):
    # none of the secret files judged here starts with `<`.
    return page.body[:512].removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def _env(page: Page) -> bool:
    lines = [ln for ln in page.text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    enough = sum(bool(_ENV_LINE.match(ln)) for ln in lines) >= max(1, len(lines) // 2)
    # Environment variables are named in capitals; `path=/.env` in an error
    # page is not one.
    return bool(lines) and enough and any(_ENV_NAME.match(ln) for ln in lines)


def _git_config(page: Page) -> bool:
    return "[core]" in page.text and "repositoryformatversion" in page.text


def _git_head(page: Page) -> bool:
    text = page.text.strip()
    return text.startswith("ref: refs/") or bool(re.fullmatch(r"[0-9a-f]{40}", text))


def _config_json(page: Page) -> bool:
    try:
        data = json.loads(page.body)
    except ValueError:
        return False
    # Keys named for secrets are judged by `_secret_entry`, which reads the
    # JSON structure; from detect-secrets only the detectors of a key's own
    # format count (its keyword detector reads a password policy as a password).
    formats = [kind for kind, _ in scan_text(page.text) if kind != "Secret Keyword"]
    return _has_secret_key(data) or bool(formats)


def _has_secret_key(data: object) -> bool:
    if isinstance(data, dict):
        return any(_secret_entry(str(k), v) or _has_secret_key(v) for k, v in data.items())
    return isinstance(data, list) and any(_has_secret_key(v) for v in data)


def _secret_entry(key: str, value: object) -> bool:
    """A key named for a secret holding what could be one: not a URL, a
    path, a template, a sentence or a key made to be public."""
    name = re.sub(r"[^a-z0-9]", "", key.lower())
    if not (SECRET_NAME.search(name) and isinstance(value, str) and value.strip()):
        return False
    return not _NOT_A_VALUE.search(value) and not value.startswith(PUBLIC_KEYS)


def _archive(page: Page) -> bool:
    magic = page.body.startswith((b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh"))
    return magic or page.body[257:262] == b"ustar"  # a plain tar


def _sql(page: Page) -> bool:
    return bool(_SQL.search(page.text[:65536]))


def _ds_store(page: Page) -> bool:
    return page.body[:8] == b"\x00\x00\x00\x01Bud1"


def _key(page: Page) -> bool:
    return b"-----BEGIN " in page.body[:4096] and b"PRIVATE KEY-----" in page.body[:4096]


def _git_index(page: Page) -> bool:
    return page.body[:4] == b"DIRC"


def _aws_credentials(page: Page) -> bool:
    return "aws_access_key_id" in page.text.lower() or "aws_secret_access_key" in page.text.lower()


def _npmrc(page: Page) -> bool:
    return "_authToken=" in page.text or "_auth=" in page.text or "_password=" in page.text


def _htpasswd(page: Page) -> bool:
    return bool(re.search(r"^[^:\s<>]+:(\$apr1\$|\$2[aby]\$|\{SHA\}|\$[156]\$)", page.text, re.M))


def _php_config(page: Page) -> bool:
    return "DB_PASSWORD" in page.text or "db_password" in page.text.lower()


Judge = Callable[[Page], bool]

_JUDGES: tuple[tuple[str, Judge], ...] = (
    # (how the path ends, the test of the body), first match wins
    (".env", _env), (".env.production", _env), (".env.local", _env),
    ("/.git/config", _git_config), ("/.git/HEAD", _git_head), ("/config.json", _config_json),
    (".zip", _archive), (".tar.gz", _archive), (".tgz", _archive), (".tar", _archive),
    (".sql", _sql), (".sql.gz", _archive), ("/.DS_Store", _ds_store),
    ("/id_rsa", _key), (".key", _key), (".pem", _key), ("/.git/index", _git_index),
    ("/.aws/credentials", _aws_credentials), ("/.npmrc", _npmrc), ("/.htpasswd", _htpasswd),
    (".php.bak", _php_config), (".7z", _archive), (".rar", _archive),
)  # fmt: skip

SECRET_PATHS = (
    "/.env", "/.env.production", "/.env.local", "/.git/config", "/.git/HEAD", "/config.json",
    "/backup.zip", "/backup.tar.gz", "/backup.tar", "/backup.sql", "/dump.sql", "/db.sql",
    "/database.sql", "/.DS_Store", "/id_rsa", "/server.key",
    # less common, same kinds: other .env copies, git's index, tool credentials, more backups
    "/.env.bak", "/.env.backup", "/.env.prod", "/.env.dev", "/.env.staging", "/.git/index",
    "/.aws/credentials", "/.npmrc", "/.htpasswd", "/wp-config.php.bak", "/.ssh/id_rsa",
    "/backup.tgz", "/backup.7z", "/backup.rar", "/db.sql.gz", "/dump.sql.gz", "/data.sql",
    "/db_backup.sql",
)  # fmt: skip
"""Well-known paths that must never be served."""


def secret_paths(domain: str) -> list[str]:
    """The well-known paths plus the backups named after the site
    (`/example.sql`, `/example.com.zip`, ...)."""
    names = dict.fromkeys([domain.split(".", maxsplit=1)[0], domain, "www", "site", "backup"])
    named = [f"/{name}{ext}" for name in names for ext in (".zip", ".tar.gz", ".sql")]
    return list(dict.fromkeys([*SECRET_PATHS, *named]))


def _judge(path: str) -> Judge | None:
    if path.startswith("/.env."):
        return _env  # .env.bak, .env.staging, ...: a copy of the same file
    return next((judge for end, judge in _JUDGES if path.endswith(end)), None)


def secret_exposed(path: str, page: Page, baseline: Page | None) -> bool:
    """Whether `page` (fetched at `path`) really is the secret file."""
    if page.status != 200 or not page.body:
        return False
    if baseline is not None and baseline.status == 200 and baseline.body == page.body:
        return False  # the same answer as for a random path: a catch-all
    judge = _judge(path)
    return judge is not None and not _looks_html(page) and judge(page)


class _Links(HTMLParser):
    """Collects (tag, attribute, url, rel) of subresources and forms."""

    _ATTRS: ClassVar[dict[str, str]] = {
        "script": "src", "img": "src", "iframe": "src", "audio": "src", "video": "src",
        "source": "src", "embed": "src", "object": "data", "link": "href", "form": "action",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = self._in_style and tag != "style"

    def _css(self, css: str) -> None:
        # url(...) in a <style> block or a style attribute: images and fonts.
        self.found += [("css", m.group(1), "") for m in _CSS_URL.finditer(css)]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self._in_style = tag == "style"
        self._css(values.get("style", ""))
        url = values.get(self._ATTRS.get(tag, ""), "")
        if not url:
            return
        if tag == "link" and not {"stylesheet", "icon", "preload", "modulepreload"} & set(
            values.get("rel", "").lower().split()
        ):
            return
        self.found.append((tag, url, values.get("rel", "").lower()))


def links(page: Page) -> list[tuple[str, str, str]]:
    """(tag, url as written, rel) for each subresource and form of an HTML page."""
    parser = _Links()
    with contextlib.suppress(AssertionError):  # html.parser's reaction to some broken markup
        parser.feed(page.text)
    return parser.found


ACTIVE_TAGS = frozenset({"script", "link", "iframe", "form", "object", "embed"})
"""Mixed content browsers block (the rest they load with a warning)."""


def mixed_content(page: Page) -> list[tuple[str, str]]:
    """(tag, url) of each http:// subresource on an https page."""
    return [(tag, url) for tag, url, _ in links(page) if url.lower().startswith("http://")]


def asset_urls(page: Page) -> list[str]:
    """Absolute URLs of the scripts, styles and images a page loads."""
    base = page.final_url or page.url
    urls = [urljoin(base, url) for tag, url, _ in links(page) if tag in ("script", "link", "img")]
    return list(dict.fromkeys(u for u in urls if urlsplit(u).scheme in ("http", "https")))


def is_script(page: Page) -> bool:
    """Whether a fetched asset is JavaScript (by path, query aside, or type)."""
    path = urlsplit(page.url).path.lower()
    kind = (page.header("Content-Type") or "").lower()
    return path.endswith((".js", ".mjs", ".cjs")) or "javascript" in kind


def source_map_url(script: Page) -> str | None:
    """The source map a script names (SourceMap header or comment), else
    the script's own URL plus `.map`: bundlers deploy maps next to the
    scripts even when the comment is stripped, and that is where anyone
    looks first."""
    named = script.header("SourceMap") or script.header("X-SourceMap")
    if named is None:
        match = _MAP_COMMENT.search(script.body[-2048:])
        named = match.group(1).decode(errors="replace") if match else None
    if named is None:
        parts = urlsplit(script.url)
        return parts._replace(path=parts.path + ".map", query="", fragment="").geturl()
    if named.startswith("data:"):
        return None
    return urljoin(script.url, named)


def map_secrets(page: Page) -> list[tuple[str, str]]:
    """(kind, masked value) of each credential in a served source map."""
    sources = source_map_sources(page) if page.status == 200 else []
    return [hit for text in sources for hit in scan_text(text)]


def source_map_sources(page: Page) -> list[str]:
    """`sourcesContent` of a source map (empty when it is not one)."""
    try:
        data = json.loads(page.body)
    except ValueError:
        return []
    if not isinstance(data, dict) or "mappings" not in data:
        return []
    return [s for s in data.get("sourcesContent") or [] if isinstance(s, str)]


_EDGE_HEADERS: tuple[tuple[str, str, str], ...] = (
    # (header, regex on its value, edge name); "" matches any value
    ("cf-ray", "", "Cloudflare"),
    ("server", "^cloudflare", "Cloudflare"),
    ("x-amz-cf-id", "", "Amazon CloudFront"),
    ("via", "cloudfront", "Amazon CloudFront"),
    ("x-fastly-request-id", "", "Fastly"),
    ("x-served-by", "^cache-", "Fastly"),
    ("x-akamai-transformed", "", "Akamai"),
    ("server", "^akamaighost", "Akamai"),
    ("x-vercel-id", "", "Vercel"),
    ("x-nf-request-id", "", "Netlify"),
    ("server", "^netlify", "Netlify"),
    ("x-azure-ref", "", "Azure Front Door"),
    ("x-sucuri-id", "", "Sucuri"),
    ("x-iinfo", "", "Imperva"),
    ("x-cdn", "incapsula|imperva", "Imperva"),
    ("server", "^bunnycdn", "Bunny CDN"),
    ("x-goog-edge-cache-status", "", "Google Cloud CDN"),
    ("via", "google", "Google Cloud CDN"),
    ("via", "varnish", "Varnish"),
)
_EDGE_CNAMES: tuple[tuple[str, str], ...] = (
    (".cdn.cloudflare.net", "Cloudflare"),
    (".cloudfront.net", "Amazon CloudFront"),
    (".fastly.net", "Fastly"),
    (".fastlylb.net", "Fastly"),
    (".akamaiedge.net", "Akamai"),
    (".edgekey.net", "Akamai"),
    (".edgesuite.net", "Akamai"),
    (".vercel-dns.com", "Vercel"),
    (".netlify.app", "Netlify"),
    (".azurefd.net", "Azure Front Door"),
    (".azureedge.net", "Azure Front Door"),
    (".b-cdn.net", "Bunny CDN"),
    (".incapdns.net", "Imperva"),
    (".sucuri.net", "Sucuri"),
)


def edge(page: Page | None, cnames: tuple[str, ...]) -> str | None:
    """The CDN or WAF in front of a host, from its headers or CNAME target."""
    for header, pattern, name in _EDGE_HEADERS:
        value = page.header(header) if page is not None else None
        if value is not None and re.search(pattern, value, re.I):
            return name
    for cname in cnames:
        target = cname.lower().rstrip(".")
        for suffix, name in _EDGE_CNAMES:
            if target.endswith(suffix):
                return name
    return None


def cache_directives(value: str | None) -> dict[str, str]:
    """Cache-Control as {directive: argument}, names lower-case."""
    out: dict[str, str] = {}
    for part in (value or "").split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            out[name.lower()] = arg.strip('"')
    return out


def cacheable(page: Page) -> bool:
    """Whether a shared or browser cache may keep the response for a while."""
    directives = cache_directives(page.header("Cache-Control"))
    if "no-store" in directives or ("private" in directives and "max-age" not in directives):
        return False
    ages = [directives.get(k, "") for k in ("max-age", "s-maxage")]
    return "immutable" in directives or any(a.isdigit() and int(a) > 0 for a in ages)


def shared_cacheable(page: Page) -> bool:
    """Whether a shared cache (CDN, proxy) may store the response."""
    directives = cache_directives(page.header("Cache-Control"))
    if {"no-store", "private"} & directives.keys():
        return False
    return "public" in directives or directives.get("s-maxage", "0") not in ("", "0")
