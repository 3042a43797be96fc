"""Shards: the flag, and a stable split of checks by name."""

from __future__ import annotations

import pytest

from collector.shard import Shard, parse_shard, shard_of


@pytest.mark.parametrize(
    ("value", "host", "want"),
    [
        ("0/1", "x", Shard(0, 1)),
        ("2/3", "x", Shard(2, 3)),
        ("ordinal/3", "vantage-collector-1", Shard(1, 3)),
    ],
    ids=["one", "k-of-n", "statefulset-ordinal"],
)
def test_parse(value: str, host: str, want: Shard) -> None:
    assert parse_shard(value, host) == want


@pytest.mark.parametrize(
    ("value", "host", "why"),
    [
        ("3/3", "x", "K must be a number from 0 to 2"),
        ("1", "x", "write K/N"),
        ("0/0", "x", "write K/N"),
        ("ordinal/2", "collector", "does not end in -NUMBER"),
    ],
    ids=["k-too-big", "no-n", "zero-n", "host-without-ordinal"],
)
def test_parse_errors(value: str, host: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_shard(value, host)


def test_every_check_has_exactly_one_owner_and_the_split_is_even() -> None:
    names = [f"check-{i:05d}" for i in range(3000)]
    shards = [Shard(k, 3) for k in range(3)]
    owners = [[s for s in shards if s.owns(n)] for n in names]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(1 for o in owners if o[0] is s) for s in shards]
    assert min(sizes) > 900 and max(sizes) < 1100  # within 10% of a third
    assert shard_of("portal-login", 4) == 0  # CRC-32: the same in every process and release
