"""The spool's files: append-only segments of framed records.

A segment is `<first ordinal, 20 digits>.seg` in the spool directory. Every
result gets an ordinal (its position in the agent's life), and a segment
holds consecutive results plus the records that say what became of them:

    frame   = length u32 | crc32 u32 | kind u8 | payload    (little endian)
    RESULT  payload = started_at f64 | Result bytes
    BATCH   payload = seq u64 | first ordinal u64 | count u32
    ACK     payload = seq u64

The CRC covers kind and payload, so a record torn by a crash ends the
replay of its file there. This module only reads and writes files; which
results are pending, in flight or acked is `agent.spool`'s business.
"""

from __future__ import annotations

import os
import struct
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

RESULT, BATCH, ACK = 1, 2, 3
_HEAD = struct.Struct("<IIB")
_TIME = struct.Struct("<d")
_BATCH = struct.Struct("<QQI")
_ACK = struct.Struct("<Q")
SUFFIX = ".seg"


def frame(kind: int, payload: bytes) -> bytes:
    """One record as written to a segment."""
    body = bytes((kind,)) + payload
    return _HEAD.pack(len(payload), zlib.crc32(body), kind) + payload


def result_record(started_at: float, result: bytes) -> bytes:
    """A RESULT frame."""
    return frame(RESULT, _TIME.pack(started_at) + result)


def batch_record(seq: int, first: int, count: int) -> bytes:
    """A BATCH frame: results first..first+count-1 went out as batch `seq`."""
    return frame(BATCH, _BATCH.pack(seq, first, count))


def ack_record(seq: int) -> bytes:
    """An ACK frame: batch `seq` was acked."""
    return frame(ACK, _ACK.pack(seq))


@dataclass
class Segment:
    """One segment file and an index of its results (8 bytes each)."""

    base: int
    path: Path
    created: float
    size: int = 0
    first_time: float = 0.0
    last_time: float = 0.0
    offsets: array[int] = field(default_factory=lambda: array("I"))
    lengths: array[int] = field(default_factory=lambda: array("I"))

    @property
    def count(self) -> int:
        """Results in this segment."""
        return len(self.offsets)

    @property
    def end(self) -> int:
        """The ordinal after its last result."""
        return self.base + len(self.offsets)

    def note_result(self, offset: int, length: int, started_at: float) -> None:
        """Index a RESULT frame written or read at `offset`."""
        if not self.offsets:
            self.first_time = started_at
        self.last_time = max(self.last_time, started_at)
        self.offsets.append(offset)
        self.lengths.append(length)

    def time_of(self, ordinal: int) -> float:
        """The started_at of result `ordinal` (one small read)."""
        with self.path.open("rb") as f:
            f.seek(self.offsets[ordinal - self.base] + _HEAD.size)
            return float(_TIME.unpack(f.read(_TIME.size))[0])

    def read(self, first: int, count: int) -> list[bytes]:
        """The Result bytes of ordinals first..first+count-1 (one read)."""
        i, j = first - self.base, first - self.base + count - 1
        start, stop = self.offsets[i], self.offsets[j] + self.lengths[j]
        with self.path.open("rb") as f:
            f.seek(start)
            block = f.read(stop - start)
        skip = _HEAD.size + _TIME.size
        out = []
        for k in range(i, j + 1):
            at = self.offsets[k] - start
            out.append(block[at + skip : at + self.lengths[k]])
        return out


def segment_path(directory: Path, base: int) -> Path:
    """The file of the segment whose first result is ordinal `base`."""
    return directory / f"{base:020d}{SUFFIX}"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """(base, path) of every segment file, oldest first."""
    found = []
    for path in directory.glob(f"*{SUFFIX}"):
        if path.stem.isdigit():
            found.append((int(path.stem), path))
    return sorted(found)


@dataclass
class Replayed:
    """What one segment file says, read back at start-up."""

    segment: Segment
    batches: list[tuple[int, int, int]] = field(default_factory=list)
    acks: list[int] = field(default_factory=list)
    torn: bool = False


def replay(base: int, path: Path) -> Replayed:
    """Read a segment file; a torn or corrupt record ends it there."""
    data = path.read_bytes()
    out = Replayed(Segment(base, path, created=os.stat(path).st_mtime))
    offset = 0
    for kind, payload, at, length in _records(data):
        if kind == RESULT:
            out.segment.note_result(at, length, _TIME.unpack_from(payload)[0])
        elif kind == BATCH:
            out.batches.append(_BATCH.unpack(payload))
        elif kind == ACK:
            out.acks.append(_ACK.unpack(payload)[0])
        offset = at + length
    out.segment.size = offset
    out.torn = offset != len(data)
    return out


def _records(data: bytes) -> Iterator[tuple[int, bytes, int, int]]:
    """(kind, payload, offset, frame length) of each intact record."""
    offset = 0
    while offset + _HEAD.size <= len(data):
        length, crc, kind = _HEAD.unpack_from(data, offset)
        end = offset + _HEAD.size + length
        payload = data[offset + _HEAD.size : end]
        if end > len(data) or zlib.crc32(bytes((kind,)) + payload) != crc:
            return
        yield kind, payload, offset, end - offset
        offset = end
