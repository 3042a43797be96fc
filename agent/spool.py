"""Results wait here, on disk, until the collector acks them.

Every result is appended to a segment file (`agent.segments`) when its
probe ends, before anything is sent; it leaves only when the batch that
carried it is acked, or when a bound drops it. The write is a plain
`write()`, so a `kill -9` of the agent loses nothing the kernel has; the
files are fsynced every `fsync_interval` seconds (default 1 s), so a machine
crash loses at most that last interval.

Each result has an ordinal. Unsent results are either *live* (from
`live` on) or *backlog* (ranges of older ordinals, kept after a reconnect
and replayed at start-up); the stream sends live ones at once and backlog
at a bounded rate, so a long outage's backlog never delays fresh results. A
batch keeps its `seq` until acked, also across restarts (the BATCH records
say which results it carried), so the collector's (agent_id, seq) dedup
never counts a result twice. Sequence numbers start at the boot time in
microseconds, or after the highest one on disk.

Bounds: past `max_bytes` of segment files, or when a segment's newest
result is older than `max_age`, the oldest segment is deleted and its
results not yet sent are counted in `dropped`; one log line starts a
dropping episode and one ends it when the spool is empty again. A batch in
flight is not dropped with its segment: it was sent, so the collector may
hold it already (only the ack was lost), and its bytes are in memory, so it
is re-sent with its seq on the next stream until acked. Counting it dropped
too would count results that are delivered; `dropped` counts only results
that can never be (a restart before its ack loses such a batch: its
records went with the segment).
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from agent import segments as seg
from vantage.v1 import vantage_pb2 as pb

log = structlog.get_logger("agent.spool")

MIB = 1 << 20
_SEGMENT_BYTES = 4 * MIB
_SEGMENTS_PER_BOUND = 16
"""A bound is enforced a segment at a time: segments are at most 1/16 of
either bound, so a drop removes at most that share of the backlog."""


def varint(n: int) -> bytes:
    """`n` as a protobuf base-128 varint."""
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_batch(seq: int, results: list[bytes], runs_skipped: int = 0) -> bytes:
    """An AgentMessage{batch: ResultBatch{seq, results, runs_skipped}} built
    from the spooled bytes of each Result, without decoding them (protobuf's
    wire format: field 1 varint, field 2 length-delimited and repeated,
    field 3 varint)."""
    body = b"\x08" + varint(seq) + b"".join(b"\x12" + varint(len(r)) + r for r in results)
    if runs_skipped:
        body += b"\x18" + varint(runs_skipped)
    return b"\x12" + varint(len(body)) + body


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Batch:
    """An in-flight batch: its results are first..first+count-1."""

    seq: int
    first: int
    count: int
    message: bytes


class Spool:
    """Durable store of unacked results in one directory."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int = 256 * MIB,
        max_age: float = 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.clock = clock
        self.segment_bytes = max(64 * 1024, min(_SEGMENT_BYTES, max_bytes // _SEGMENTS_PER_BOUND))
        self.segment_seconds = min(300.0, max_age / _SEGMENTS_PER_BOUND)
        self.segments: list[seg.Segment] = []
        self.backlog: deque[list[int]] = deque()  # [start, end) ranges, oldest first
        self.in_flight: OrderedDict[int, Batch] = OrderedDict()
        self.dropped = 0
        self._episode = 0  # results dropped in the current episode
        self._fd = -1
        self._dirty = self._dir_dirty = False
        self._retired: list[int] = []  # finished segments' fds, to fsync and close
        self.live = 0
        directory.mkdir(parents=True, exist_ok=True)
        self.next_seq = self._replay()
        self.live = self.write_ordinal
        self._open_segment()

    @property
    def write_ordinal(self) -> int:
        """The ordinal the next result gets."""
        return self.segments[-1].end if self.segments else 0

    def __len__(self) -> int:
        backlog = sum(end - start for start, end in self.backlog)
        flying = sum(b.count for b in self.in_flight.values())
        return backlog + flying + self.write_ordinal - self.live

    @property
    def size_bytes(self) -> int:
        """Bytes of segment files on disk."""
        return sum(s.size for s in self.segments)

    def oldest_age(self, now: float) -> float:
        """Seconds since the oldest unacked result on disk started (0 when
        empty)."""
        low = self._low_water(on_disk=True)
        for s in self.segments:
            if s.base <= low < s.end:
                return max(0.0, now - s.time_of(low))
        return 0.0

    # -- writing ---------------------------------------------------------

    def add(self, result: pb.Result) -> None:
        """Append a result to the spool (it is on its way to disk when this returns)."""
        active = self.segments[-1]
        if active.count and (
            active.size >= self.segment_bytes
            or self.clock() - active.created >= self.segment_seconds
        ):
            self._rotate()
            active = self.segments[-1]
        record = seg.result_record(result.started_at, result.SerializeToString())
        self._write(record)
        active.note_result(active.size, len(record), result.started_at)
        active.size += len(record)

    def _append(self, record: bytes) -> None:
        self._write(record)
        self.segments[-1].size += len(record)

    def _write(self, record: bytes) -> None:
        """Write a whole record or nothing: a failed write (a full disk) is
        cut back off, so that no torn record hides the ones after it; the
        OSError is raised."""
        try:
            written = os.write(self._fd, record)
            if written != len(record):
                raise OSError(errno.ENOSPC, f"short write of a spool record ({written} bytes)")
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self.segments[-1].size)
            raise
        self._dirty = True

    def _open_segment(self) -> None:
        # A segment with no result yet (acks only) goes on being written:
        # the next one would have the same first ordinal, hence file name.
        if not self.segments or self.segments[-1].count:
            base = self.write_ordinal
            path = seg.segment_path(self.directory, base)
            self.segments.append(seg.Segment(base, path, created=self.clock()))
        self._fd = os.open(self.segments[-1].path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._dir_dirty = True

    def _rotate(self) -> None:
        # The finished segment is fsynced and closed by the next sync pass,
        # off the event loop: an fsync can take tens of milliseconds.
        self._retired.append(self._fd)
        self._open_segment()
        self.enforce()

    def sync_work(self) -> Callable[[], None]:
        """Take what the next fsync pass must do; the returned function does
        it, and may run in another thread (the loss bound of a machine
        crash is the interval between passes)."""
        fd = self._fd if self._dirty else -1
        retired, self._retired = self._retired, []
        directory = self.directory if self._dir_dirty else None
        self._dirty = self._dir_dirty = False

        def work() -> None:
            for old in retired:
                os.fsync(old)
                os.close(old)
            if fd >= 0:
                os.fsync(fd)
            if directory is not None:
                _fsync_dir(directory)

        return work

    def sync(self) -> None:
        """One fsync pass, here and now."""
        self.sync_work()()

    def close(self) -> None:
        """fsync and close every segment file still open."""
        self.sync()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- sending -------------------------------------------------------------

    def rewind(self) -> list[bytes]:
        """A new stream: unsent live results become backlog; returns the
        in-flight batches to re-send, in seq order, with their own seqs."""
        if self.write_ordinal > self.live:
            self._add_backlog(self.live, self.write_ordinal)
            self.live = self.write_ordinal
        return [b.message for b in self.in_flight.values()]

    def next_live(self, max_size: int, runs_skipped: int = 0) -> Batch | None:
        """A new in-flight batch of up to `max_size` live results, carrying
        the count of runs shed since the last one (alone if need be)."""
        count = min(max_size, self.write_ordinal - self.live)
        if count <= 0 and not runs_skipped:
            return None
        batch = self._new_batch(self.live, count, runs_skipped)
        self.live += count
        return batch

    def next_backlog(self, max_size: int) -> Batch | None:
        """A new in-flight batch of up to `max_size` backlog results, oldest first."""
        if not self.backlog:
            return None
        span = self.backlog[0]
        count = min(max_size, span[1] - span[0])
        batch = self._new_batch(span[0], count)
        span[0] += count
        if span[0] >= span[1]:
            self.backlog.popleft()
        return batch

    @property
    def backlog_count(self) -> int:
        """Results waiting in the backlog."""
        return sum(end - start for start, end in self.backlog)

    def _new_batch(self, first: int, count: int, runs_skipped: int = 0) -> Batch:
        """A batch is recorded before it is sent, so that a restart re-sends
        it with its own seq (an OSError from the record stops it here)."""
        seq = self.next_seq
        message = encode_batch(seq, self._read(first, count), runs_skipped)
        self._append(seg.batch_record(seq, first, count))
        # Past the wall clock, not just +1: a shared-token holder that sent a seq
        # of "now" under this agent's id would otherwise stay ahead of every
        # later batch (each counted a duplicate) until a restart; this way the
        # collector's seq bound (5 min ahead) bounds the harm.
        self.next_seq = max(time.time_ns() // 1000, seq + 1)
        batch = self.in_flight[seq] = Batch(seq, first, count, message)
        return batch

    def _read(self, first: int, count: int) -> list[bytes]:
        out: list[bytes] = []
        if count <= 0:
            return out
        i = bisect.bisect_right([s.base for s in self.segments], first) - 1
        while count > 0:
            s = self.segments[i]
            n = min(count, s.end - first)
            out.extend(s.read(first, n))
            first, count, i = first + n, count - n, i + 1
        return out

    def ack(self, seq: int) -> None:
        """Forget an acked batch (unknown seqs are ignored) and delete the
        segments nothing unacked is left in."""
        if self.in_flight.pop(seq, None) is None:
            return
        try:
            self._append(seg.ack_record(seq))
        except OSError as exc:  # after a restart the batch is re-sent, and deduplicated
            log.warning("spool.ack_not_recorded", seq=seq, error=str(exc))
        self._delete_done()
        if self._episode and not len(self):
            log.warning("spool.dropping_ended", dropped=self._episode)
            self._episode = 0

    def _low_water(self, on_disk: bool = False) -> int:
        """The oldest unacked ordinal; `on_disk`: of those still in a
        segment (a batch in flight can outlive its segment, see Bounds)."""
        base = self.segments[0].base if on_disk and self.segments else 0
        low = self.live
        if self.backlog:
            low = min(low, self.backlog[0][0])
        flying = [max(b.first, base) for b in self.in_flight.values() if b.first + b.count > base]
        return min(low, *flying) if flying else low

    def _delete_done(self) -> None:
        low = self._low_water()
        while len(self.segments) > 1 and self.segments[0].end <= low:
            self.segments.pop(0).path.unlink(missing_ok=True)

    # -- bounds --------------------------------------------------------------

    def enforce(self) -> int:
        """Drop the oldest segments while a bound is passed; returns how
        many unacked results that dropped."""
        dropped = 0
        now = self.clock()
        while len(self.segments) > 1 and (
            self.size_bytes > self.max_bytes or now - self.segments[0].last_time > self.max_age
        ):
            dropped += self._drop_oldest()
        if dropped:
            if not self._episode:
                log.warning(
                    "spool.dropping",
                    dropped=dropped,
                    max_bytes=self.max_bytes,
                    max_age_seconds=self.max_age,
                )
            self._episode += dropped
            self.dropped += dropped
        return dropped

    def _drop_oldest(self) -> int:
        oldest = self.segments.pop(0)
        oldest.path.unlink(missing_ok=True)
        start, end = oldest.base, oldest.end
        lost = self._cut_backlog(end)
        if self.live < end:
            lost += end - self.live
            self.live = end
        return lost if start < end else 0

    def _cut_backlog(self, end: int) -> int:
        lost = 0
        while self.backlog and self.backlog[0][0] < end:
            span = self.backlog[0]
            cut = min(span[1], end)
            lost += cut - span[0]
            span[0] = cut
            if span[0] >= span[1]:
                self.backlog.popleft()
        return lost

    def _add_backlog(self, start: int, end: int) -> None:
        if self.backlog and self.backlog[-1][1] == start:
            self.backlog[-1][1] = end
        else:
            self.backlog.append([start, end])

    # -- start-up --------------------------------------------------------------

    def _replay(self) -> int:
        """Read the segments back; returns the next seq to use."""
        batches: dict[int, tuple[int, int]] = {}
        acked: set[int] = set()
        for base, path in seg.list_segments(self.directory):
            if self.segments and base != self.segments[-1].end:
                log.error("spool.gap", file=str(path), expected=self.segments[-1].end)
            read = seg.replay(base, path)
            if read.torn:  # a crash tore its last record: cut it off
                log.warning("spool.torn_record", file=str(path), kept_bytes=read.segment.size)
                os.truncate(path, read.segment.size)
            self.segments.append(read.segment)
            batches.update((s, (f, c)) for s, f, c in read.batches)
            acked.update(read.acks)
        self._rebuild(batches, acked)
        if self.segments:
            log.info("spool.replayed", results=len(self), in_flight=len(self.in_flight))
        top = max([*batches, *acked], default=0)
        return max(time.time_ns() // 1000, top + 1)

    def _rebuild(self, batches: dict[int, tuple[int, int]], acked: set[int]) -> None:
        if not self.segments:
            return
        low, high = self.segments[0].base, self.segments[-1].end
        sent = bytearray(b"\x01") * (high - low)  # a gap between segments counts as sent
        for s in self.segments:
            sent[s.base - low : s.end - low] = bytes(s.count)
        for seq, (first, count) in sorted(batches.items()):
            a, b = max(first, low), min(first + count, high)
            if a >= b:
                continue
            sent[a - low : b - low] = b"\x01" * (b - a)
            if seq not in acked and a == first and b == first + count:
                message = encode_batch(seq, self._read(first, count))
                self.in_flight[seq] = Batch(seq, first, count, message)
        start = None
        for i, flag in enumerate(sent):
            if not flag and start is None:
                start = i
            elif flag and start is not None:
                self._add_backlog(low + start, low + i)
                start = None
        if start is not None:
            self._add_backlog(low + start, high)
        self.live = high
        self._delete_done()
