"""The config file is hostile until proven otherwise: size and alias bounds,
semantic bounds, and the `agents:` section. Each bad file maps to its exact
message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collector.config_source import load_collector_config
from common.auth import token_sha256
from common.config import ConfigError, load_config, parse_config
from common.config.loader import MAX_BYTES

HEAD = "defaults: {interval: 10s, timeout: 5s, regions: [eu-west, us-east]}\n"
DIGEST = token_sha256("fake-token")

BAD = [
    (
        "interval-under-1s",
        "checks:\n  - {name: a, type: http, url: 'http://x/', interval: 500ms, timeout: 100ms}\n",
        ["checks.yaml:3: check 'a': field 'interval': 500ms is outside 1s..1d"],
    ),
    (
        "interval-over-a-day",
        "checks:\n  - {name: a, type: http, url: 'http://x/', interval: 48h}\n",
        ["checks.yaml:3: check 'a': field 'interval': 2d is outside 1s..1d"],
    ),
    (
        "threshold-over-max",
        "checks:\n  - {name: a, type: http, url: 'http://x/', failure_threshold: 1000}\n",
        ["checks.yaml:3: check 'a': field 'failure_threshold': 1000 is over the maximum of 100"],
    ),
    (
        "quorum-over-regions",
        "checks:\n  - {name: a, type: http, url: 'http://x/', quorum: 3}\n",
        [
            "checks.yaml:3: check 'a': field 'quorum': 3 is more than the check's "
            "2 regions (eu-west, us-east)"
        ],
    ),
    (
        "tls-without-port",
        "checks:\n  - name: a\n    type: tls\n    target: www.example.com\n",
        [
            "checks.yaml:5: check 'a': field 'target': 'www.example.com' has no port: "
            "write e.g. www.example.com:443"
        ],
    ),
    (
        "agent-token-in-clear",
        "checks: []\nagents:\n  - {name: eu-1, region: eu-west, token_sha256: fake-token}\n",
        [
            "checks.yaml:4: field 'token_sha256': must be the token's sha256 as 64 lowercase "
            "hex digits (vantage token create prints it), never the token itself"
        ],
    ),
    (
        "agent-name-twice",
        f"checks: []\nagents:\n  - {{name: eu-1, region: eu-west, token_sha256: '{DIGEST}'}}\n"
        f"  - {{name: eu-1, region: us-east, token_sha256: '{token_sha256('x')}'}}\n",
        ["checks.yaml:5: agent name used twice"],
    ),
    (
        "agent-unknown-key",
        f"checks: []\nagents:\n  - {{name: eu-1, regoin: eu, token_sha256: '{DIGEST}'}}\n",
        [
            "checks.yaml:4: field 'region': Field required",
            "checks.yaml:4: unknown key 'regoin' (did you mean 'region'?)",
        ],
    ),
    ("recursive-alias", "checks: &a [*a]\n", ["checks.yaml:2: recursive alias"]),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in BAD], ids=[i for i, *_ in BAD]
)
def test_bad_config_message(text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD + text, "checks.yaml")
    assert sorted(info.value.problems) == sorted(expected)


def test_agents_parse_and_do_not_change_the_version_agents_see() -> None:
    plain = parse_config(HEAD + "checks: []\n", "checks.yaml")
    with_agents = parse_config(
        HEAD
        + f"checks: []\nagents:\n  - {{name: eu-1, region: eu-west, token_sha256: '{DIGEST}'}}\n",
        "checks.yaml",
    )
    assert [(a.name, a.region, a.token_sha256) for a in with_agents.agents] == [
        ("eu-1", "eu-west", DIGEST)
    ]
    assert with_agents.version == plain.version
    assert plain.empty_on_purpose and not parse_config(HEAD, "checks.yaml").empty_on_purpose


def test_an_alias_bomb_is_refused_within_a_second() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"aliases expand the document by [\d,]+ nodes"):
        parse_config("\n".join(lines) + "\nchecks: *a9\n", "bomb.yaml")
    assert time.monotonic() - started < 1.0


def test_a_file_over_the_size_bound_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: costs no disk
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ["big.yaml: larger than 16 MiB: refused"]
    assert time.monotonic() - started < 1.0


def test_binary_garbage_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError, match=r"garbage\.yaml"):
        load_config(path)


def test_anchors_of_an_ordinary_file_still_work() -> None:
    text = HEAD + (
        "checks:\n"
        "  - &base {name: a, type: http, url: 'http://x/', labels: &l {team: web}}\n"
        "  - {name: b, type: http, url: 'http://y/', labels: *l}\n"
    )
    a, b = parse_config(text, "checks.yaml").checks
    assert a.labels == b.labels == {"team": "web"}


def test_an_unset_env_in_a_receiver_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(
        "checks: []\nalerting:\n  route: {receivers: [pager]}\n  receivers:\n"
        '    - name: pager\n      type: webhook\n      url: "${env:FAKE_UNSET_URL}"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_collector_config(path, env={})
    assert info.value.problems == [
        "checks.yaml:7: receiver 'pager': field 'url': environment variable FAKE_UNSET_URL is not set"
    ]
