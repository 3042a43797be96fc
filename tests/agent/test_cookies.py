"""The flow's cookie jar: what a response sets, what a request gets back."""

from __future__ import annotations

import pytest

from agent.probe_kit.cookies import CookieJar

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("set_cookie", "host", "path", "secure", "want"),
    [
        ("sid=1", "app.example.com", "/x", False, "sid=1"),
        ("sid=1", "other.example.com", "/", False, ""),  # host-only
        ("sid=1; Domain=example.com", "app.example.com", "/", False, "sid=1"),
        ("sid=1; Domain=.example.com", "example.com", "/", False, "sid=1"),
        ("sid=1; Domain=other.com", "app.example.com", "/", False, ""),  # refused when set
        ("sid=1; Path=/api", "app.example.com", "/api/v1", False, "sid=1"),
        ("sid=1; Path=/api", "app.example.com", "/apiary", False, ""),
        ("sid=1; Secure", "app.example.com", "/", False, ""),
        ("sid=1; Secure", "app.example.com", "/", True, "sid=1"),
        ("sid=1; Max-Age=0", "app.example.com", "/", False, ""),
        ("sid=1; Max-Age=60", "app.example.com", "/", False, "sid=1"),
        ("sid=1; Expires=Wed, 01 Jan 2020 00:00:00 GMT", "app.example.com", "/", False, ""),
        ('sid="a b"', "app.example.com", "/", False, 'sid="a b"'),
    ],
    ids=[
        "host-only",
        "host-only-elsewhere",
        "domain",
        "leading-dot",
        "foreign-domain",
        "path",
        "path-prefix-is-not-a-segment",
        "secure-over-http",
        "secure-over-https",
        "max-age-0",
        "max-age",
        "expired",
        "quoted",
    ],
)
def test_a_cookie_goes_back_where_it_belongs(
    set_cookie: str, host: str, path: str, secure: bool, want: str
) -> None:
    jar = CookieJar()
    jar.update([set_cookie], "app.example.com", "/login", NOW)
    assert jar.header(host, path, secure, NOW) == want


def test_an_ip_host_keeps_its_cookies() -> None:
    jar = CookieJar()
    jar.update(["sid=1", "theme=dark; Path=/"], "127.0.0.1", "/api/login", NOW)
    assert jar.header("127.0.0.1", "/api/dashboard", False, NOW) == "sid=1; theme=dark"
    assert jar.header("127.0.0.2", "/api/dashboard", False, NOW) == ""


def test_the_default_path_is_the_directory_and_the_longest_path_wins() -> None:
    jar = CookieJar()
    jar.update(["a=root; Path=/", "a=api"], "h", "/api/login", NOW)
    assert jar.header("h", "/api/x", False, NOW) == "a=api"
    assert jar.header("h", "/", False, NOW) == "a=root"


def test_a_cookie_expires_and_a_later_one_replaces_it() -> None:
    jar = CookieJar()
    jar.update(["sid=1; Max-Age=10"], "h", "/", NOW)
    assert jar.header("h", "/", False, NOW + 11) == ""
    jar.update(["sid=2", "sid=3"], "h", "/", NOW)
    assert jar.header("h", "/", False, NOW) == "sid=3"
    jar.update(["sid=x; Max-Age=0"], "h", "/", NOW)
    assert len(jar) == 0
