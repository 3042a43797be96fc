"""`vantage token create`: a fresh token, shown once, and the config line
whose digest the collector's config loader accepts."""

from __future__ import annotations

import re

import pytest

from cli.admin import create_token
from common.auth import AgentTokens, Binding, token_sha256
from common.config import parse_config


def test_token_create_prints_the_token_once_and_a_line_the_config_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert create_token("eu-west-1", "eu-west") == 0
    out = capsys.readouterr().out
    [token] = re.findall(r"vtk_[A-Za-z0-9_-]{40,}", out)
    line = out.strip().splitlines()[-1]
    config = parse_config(f"checks: []\nagents:\n{line}\n", "checks.yaml")
    [agent] = config.agents
    assert (agent.name, agent.region, agent.token_sha256) == (
        "eu-west-1",
        "eu-west",
        token_sha256(token),
    )
    tokens = AgentTokens([Binding(agent.name, agent.region, agent.token_sha256)])
    identity = tokens.identify(f"Bearer {token}")
    assert identity is not None and identity.refusal("eu-west-1", "eu-west") is None
    assert out.count(token) == 1


def test_two_tokens_differ(capsys: pytest.CaptureFixture[str]) -> None:
    create_token("a", "r")
    create_token("a", "r")
    assert len(set(re.findall(r"vtk_[A-Za-z0-9_-]+", capsys.readouterr().out))) == 2
