"""Bearer tokens for agents and the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.auth import AgentTokens, Binding, bearer_ok, read_token_file, token_sha256


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


BOUND = Binding("eu-west-1", "eu-west", token_sha256("fake-bound"))
TOKENS = AgentTokens([BOUND], ["fake-shared"])


@pytest.mark.parametrize(
    ("header", "binding", "known"),
    [
        ("Bearer fake-bound", BOUND, True),
        ("Bearer fake-shared", None, True),
        ("Bearer fake-other", None, False),
        (None, None, False),
    ],
    ids=["bound", "shared", "unknown", "missing"],
)
def test_identify(header: str | None, binding: Binding | None, known: bool) -> None:
    identity = TOKENS.identify(header)
    assert (identity is not None) is known
    assert identity is None or identity.binding == binding


@pytest.mark.parametrize(
    ("agent_id", "region", "refused"),
    [("eu-west-1", "eu-west", False), ("eu-west-2", "eu-west", True), ("eu-west-1", "us", True)],
    ids=["as-bound", "other-name", "other-region"],
)
def test_a_bound_identity_refuses_other_claims(agent_id: str, region: str, refused: bool) -> None:
    identity = TOKENS.identify("Bearer fake-bound")
    assert identity is not None
    assert (identity.refusal(agent_id, region) is not None) is refused


def test_dedup_keys_follow_the_token_not_the_claim() -> None:
    bound, shared = TOKENS.identify("Bearer fake-bound"), TOKENS.identify("Bearer fake-shared")
    assert bound is not None and shared is not None
    assert bound.key("eu-west-1", "eu-west") == "agent:eu-west-1"
    assert shared.key("eu-west-1", "eu-west") != bound.key("eu-west-1", "eu-west")
    assert shared.key("a", "eu-west") != shared.key("a", "us-east")


def test_a_reload_that_drops_a_token_revokes_it() -> None:
    identity = TOKENS.identify("Bearer fake-bound")
    assert identity is not None and TOKENS.allows(identity)
    assert not AgentTokens([], ["fake-shared"]).allows(identity)
    moved = Binding("eu-west-1", "us-east", BOUND.token_sha256)
    assert not AgentTokens([moved]).allows(identity)


def test_token_files_skip_comments_and_refuse_empty(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# agents\nfake-a\n\n  fake-b  \n")
    assert read_token_file(path) == ("fake-a", "fake-b")
    path.write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no token"):
        read_token_file(path)
