"""Loopback helpers: free ports and readiness polling."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import dns.exception
import dns.message
import dns.query


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """Status and body of a GET on loopback (errors return their status too)."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"tests and benchmarks only talk to loopback, not {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def dns_answers(port: int, qname: str) -> bool:
    """Whether a DNS server on 127.0.0.1:`port` answers an A query for `qname`."""
    query = dns.message.make_query(qname, "A")
    try:
        return bool(dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2).answer)
    except (dns.exception.Timeout, OSError):
        return False


def get_json(url: str) -> Any:
    """GET and decode JSON, raising on a non-200 answer."""
    status, body = http_get(url)
    assert status == 200, f"{url}: {status} {body[:200]}"
    return json.loads(body)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, AssertionError, KeyError, ValueError) as exc:
            last_error = exc
        time.sleep(every)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error})"
    )


def reporting(
    http_port: int, regions: tuple[str, ...], success: bool = False
) -> set[tuple[str, str]]:
    """(check, region) pairs with a last result (a successful one with
    `success`) in a collector's /api/v1/checks."""
    body = get_json(f"http://127.0.0.1:{http_port}/api/v1/checks")
    return {
        (check["name"], region)
        for check in body["checks"]
        for region, view in check["regions"].items()
        if region in regions and view["last"] and (view["last"]["success"] or not success)
    }
