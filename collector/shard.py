"""Shards: past one collector's figures, checks are split by a stable hash
of their name across N collectors (`vantage-collector --shard K/N`).

Each collector owns its shard's checks: it pushes only those to agents,
ingests only their results, evaluates them, keeps their state and exports
their /metrics. Agents stream to every collector (`--collector a,b,...`).
The hash is CRC-32 of the name, the same in every process and release, so
a check stays on its shard until N changes.
"""

from __future__ import annotations

import socket
import zlib
from dataclasses import dataclass, replace

from common.config import Config


def shard_of(name: str, count: int) -> int:
    """The shard (0..count-1) that owns the check called `name`."""
    return zlib.crc32(name.encode()) % count


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`; `Shard(0, 1)` owns every check."""

    index: int = 0
    count: int = 1

    def owns(self, name: str) -> bool:
        """Whether this shard owns the check called `name`."""
        return self.count == 1 or shard_of(name, self.count) == self.index

    def select(self, config: Config) -> Config:
        """`config` with only this shard's checks."""
        if self.count == 1:
            return config
        return replace(config, checks=tuple(c for c in config.checks if self.owns(c.name)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(value: str, hostname: str | None = None) -> Shard:
    """`K/N` (0 <= K < N); K may be `ordinal`, the number after the last `-`
    of the host name, as a Kubernetes StatefulSet names its pods
    (`vantage-collector-2` is shard 2). ValueError with a one-line reason."""
    index, sep, count = value.partition("/")
    if not sep or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{value!r}: write K/N, e.g. 0/3 (shard K of N, counted from 0)")
    if index == "ordinal":
        host = hostname if hostname is not None else socket.gethostname()
        index = host.rpartition("-")[2]
        if not index.isdigit():
            raise ValueError(f"{value!r}: host name {host!r} does not end in -NUMBER")
    if not index.isdigit() or int(index) >= int(count):
        raise ValueError(f"{value!r}: K must be a number from 0 to {int(count) - 1}")
    return Shard(int(index), int(count))
