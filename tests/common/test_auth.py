"""Bearer tokens for agents and the API."""

from __future__ import annotations

import pytest

from common.auth import bearer_ok


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer t2", True),
        ("Bearer t3", False),
        ("t2", False),
        ("bearer t2", False),
        ("Bearer ", False),
        (None, False),
        (b"Bearer t2", False),
    ],
    ids=["known", "unknown", "no-scheme", "lowercase-scheme", "empty", "missing", "binary"],
)
def test_bearer_ok(header: str | bytes | None, ok: bool) -> None:
    assert bearer_ok(header, ["t1", "t2"]) is ok


def test_no_tokens_accepts_nothing() -> None:
    assert not bearer_ok("Bearer ", [])
