"""The cookie jar an `http_flow` run keeps across its steps (RFC 6265,
the parts a flow meets): cookies set by every response, redirects
included, sent back to the hosts and paths they were set for. Pure: the
caller passes `now`.

A jar lives for one run. IP-literal hosts keep cookies (test and internal
targets are often addressed by IP), host-only cookies go back to their host
alone, `Secure` ones only over https, expired ones never; for one name the
most specific (longest path) cookie wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, Morsel, SimpleCookie

from common.addresses import is_ip_address


@dataclass(frozen=True)
class _Cookie:
    value: str
    host_only: bool
    secure: bool
    expires: float | None  # seconds since the epoch; None: for the run


def _domain_match(domain: str, host: str) -> bool:
    if host == domain:
        return True
    return host.endswith("." + domain) and not is_ip_address(host)


def _path_match(cookie_path: str, path: str) -> bool:
    if path == cookie_path:
        return True
    if not path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or path[len(cookie_path)] == "/"


def _default_path(path: str) -> str:
    """The directory of the request path (RFC 6265 5.1.4)."""
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def _expiry(morsel: Morsel[str], now: float) -> float | None:
    """When the cookie expires: Max-Age wins over Expires; None for none."""
    max_age = morsel["max-age"]
    if max_age:
        try:
            return now + int(max_age)
        except ValueError:
            pass
    expires = morsel["expires"]
    if expires:
        try:
            return parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError):
            return None
    return None


class CookieJar:
    """Cookies by (domain, path, name)."""

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], _Cookie] = {}

    def __len__(self) -> int:
        return len(self._cookies)

    def update(self, set_cookies: list[str], host: str, path: str, now: float) -> None:
        """Store what the `Set-Cookie` values of a response from `host`
        (lower case, no brackets) for `path` set; a past expiry deletes."""
        for header in set_cookies:
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(header)
            except CookieError:
                continue  # a malformed cookie is ignored, as browsers do
            for name, morsel in parsed.items():
                self._store(name, morsel, host, path, now)

    def _store(self, name: str, morsel: Morsel[str], host: str, path: str, now: float) -> None:
        domain = morsel["domain"].lower()
        if domain.endswith("."):
            domain = ""  # a trailing dot: treated as no Domain attribute
        domain = domain.removeprefix(".")
        if domain and not _domain_match(domain, host):
            return  # a cookie for another domain is refused
        cookie_path = morsel["path"]
        if not cookie_path.startswith("/"):
            cookie_path = _default_path(path)
        key = (domain or host, cookie_path, name)
        expires = _expiry(morsel, now)
        if expires is not None and expires <= now:
            self._cookies.pop(key, None)
            return
        secure = bool(morsel["secure"])
        self._cookies[key] = _Cookie(morsel.coded_value, not domain, secure, expires)

    def header(self, host: str, path: str, secure: bool, now: float) -> str:
        """The `Cookie` value for a request to `host` and `path` ("" for none)."""
        chosen: dict[str, tuple[int, str]] = {}
        for (domain, cookie_path, name), cookie in list(self._cookies.items()):
            if cookie.expires is not None and cookie.expires <= now:
                del self._cookies[(domain, cookie_path, name)]
                continue
            if cookie.secure and not secure:
                continue
            if not (host == domain if cookie.host_only else _domain_match(domain, host)):
                continue
            if not _path_match(cookie_path, path or "/"):
                continue
            best = chosen.get(name)
            if best is None or len(cookie_path) > best[0]:
                chosen[name] = (len(cookie_path), cookie.value)
        return "; ".join(f"{name}={value}" for name, (_, value) in chosen.items())
