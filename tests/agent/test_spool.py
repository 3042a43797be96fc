"""The durable spool: results stay on disk until acked, batches keep their
seq across restarts, a torn record is cut off, and the bounds drop the
oldest results and count them."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from agent import segments
from agent.spool import Spool, encode_batch
from vantage.v1 import vantage_pb2 as pb


def result(i: int, started_at: float = 1000.0) -> pb.Result:
    return pb.Result(check=f"c{i}", started_at=started_at, success=True, message="x" * 200)


def checks(message: bytes) -> tuple[int, list[str]]:
    batch = pb.AgentMessage.FromString(message).batch
    return batch.seq, [r.check for r in batch.results]


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_encoded_batch_is_the_protobuf_message() -> None:
    results = [result(i) for i in range(3)]
    raw = encode_batch(300, [r.SerializeToString() for r in results])
    expected = pb.AgentMessage(batch=pb.ResultBatch(seq=300, results=results))
    assert pb.AgentMessage.FromString(raw) == expected


def test_batches_are_numbered_and_kept_until_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.next_seq
    for i in range(5):
        spool.add(result(i))
    a, b = spool.next_live(3), spool.next_live(3)
    assert a is not None and b is not None
    assert checks(a.message) == (first, ["c0", "c1", "c2"])
    assert checks(b.message)[1] == ["c3", "c4"]
    assert first < b.seq
    assert spool.next_live(3) is None
    spool.ack(first)
    assert [checks(m)[0] for m in spool.rewind()] == [b.seq]
    assert len(spool) == 2
    spool.ack(999)  # unknown acks are harmless
    assert len(spool) == 2


def test_restart_resends_in_flight_with_same_seq_and_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(6):
        spool.add(result(i))
    acked, flying = spool.next_live(2), spool.next_live(2)
    assert acked is not None and flying is not None
    spool.ack(acked.seq)
    del spool  # no close: as after kill -9, only what write() handed the kernel
    again = Spool(tmp_path)
    assert [checks(m) for m in again.rewind()] == [(flying.seq, ["c2", "c3"])]
    backlog = again.next_backlog(10)
    assert backlog is not None
    assert checks(backlog.message)[1] == ["c4", "c5"]
    assert backlog.seq > flying.seq
    assert len(again) == 4


def test_a_torn_last_record_is_cut_off(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.add(result(i))
    spool.close()
    (path,) = tmp_path.glob("*.seg")
    path.write_bytes(path.read_bytes()[:-5])
    again = Spool(tmp_path)
    assert len(again) == 2
    again.rewind()
    again.add(result(9))
    batch = again.next_backlog(10)
    live = again.next_live(10)
    assert batch is not None and live is not None
    assert checks(batch.message)[1] + checks(live.message)[1] == ["c0", "c1", "c9"]


def test_reconnect_moves_unsent_results_to_the_backlog(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.add(result(i))
    assert spool.rewind() == []
    spool.add(result(3))
    live = spool.next_live(10)
    old = spool.next_backlog(10)
    assert live is not None and old is not None
    assert checks(live.message)[1] == ["c3"]
    assert checks(old.message)[1] == ["c0", "c1", "c2"]
    assert old.seq > live.seq  # seqs follow the send order, as the dedup needs


def test_acked_segments_are_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 * 1024 * 16, clock=Clock())
    for i in range(2000):
        spool.add(result(i))
    assert len(list(tmp_path.glob("*.seg"))) > 1
    while (batch := spool.next_live(500)) is not None:
        spool.ack(batch.seq)
    assert len(spool) == 0
    assert len(list(tmp_path.glob("*.seg"))) == 1


@pytest.mark.parametrize(
    ("max_bytes", "max_age", "advance", "expect_drop"),
    [
        (64 * 1024 * 16, 86400.0, 0.0, False),
        (64 * 1024 * 2, 86400.0, 0.0, True),
        (1 << 30, 3600.0, 0.0, False),
        (1 << 30, 3600.0, 7200.0, True),
    ],
    ids=["under-bounds", "over-bytes", "young", "over-age"],
)
def test_bounds_drop_the_oldest_and_count_them(
    tmp_path: Path, max_bytes: int, max_age: float, advance: float, expect_drop: bool
) -> None:
    clock = Clock()
    spool = Spool(tmp_path, max_bytes=max_bytes, max_age=max_age, clock=clock)
    for i in range(3000):
        spool.add(result(i, started_at=clock.now))
        clock.now += 0.1
    clock.now += advance
    spool.add(result(3000, started_at=clock.now))
    spool.enforce()
    assert (spool.dropped > 0) is expect_drop
    assert len(spool) == 3001 - spool.dropped
    assert spool.size_bytes <= max(max_bytes, spool.segment_bytes * 2)
    spool.rewind()
    first = spool.next_backlog(1)
    assert first is not None
    assert checks(first.message)[1] == [f"c{spool.dropped}"]  # the oldest went first


def test_a_batch_in_flight_outlives_its_dropped_segment_and_is_not_counted(
    tmp_path: Path,
) -> None:
    # Sent before the link died, a batch may be at the collector already;
    # it is re-sent and acked after the heal, so it is never 'dropped'.
    clock = Clock()
    spool = Spool(tmp_path, max_bytes=1 << 30, max_age=160.0, clock=clock)  # 10 s segments
    for i in range(300):
        spool.add(result(i, started_at=clock.now))
        clock.now += 0.1
    sent = spool.next_live(50)
    assert sent is not None
    spool.rewind()  # the link died: results 50..299 wait in the backlog
    clock.now += 200.0
    spool.add(result(300, started_at=clock.now))  # rotates; the age bound drops the rest
    assert len(spool.segments) == 1
    assert spool.dropped == 250  # the backlog, not the 50 in flight
    assert spool.rewind() == [sent.message]  # re-sent on the next stream, same seq
    assert checks(sent.message)[1] == [f"c{i}" for i in range(50)]
    assert spool.oldest_age(clock.now) == 0.0  # the one result left on disk
    spool.ack(sent.seq)
    assert len(spool) == 1
    assert spool.dropped == 250


def test_oldest_age_is_that_of_the_oldest_unacked_result(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.oldest_age(2000.0) == 0.0
    spool.add(result(0, started_at=1000.0))
    spool.add(result(1, started_at=1500.0))
    batch = spool.next_live(1)
    assert batch is not None
    assert spool.oldest_age(2000.0) == 1000.0
    spool.ack(batch.seq)
    assert spool.oldest_age(2000.0) == 500.0


def test_replay_reads_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "x.seg"
    path.write_bytes(segments.result_record(5.0, b"abc") + segments.batch_record(7, 0, 1))
    read = segments.replay(0, path)
    assert (read.segment.count, read.batches, read.torn) == (1, [(7, 0, 1)], False)
    assert read.segment.read(0, 1) == [b"abc"]


def test_seq_starts_after_the_highest_on_disk(tmp_path: Path) -> None:
    path = segments.segment_path(tmp_path, 0)
    path.write_bytes(segments.result_record(5.0, b"") + segments.batch_record(2**60, 0, 1))
    assert Spool(tmp_path).next_seq == 2**60 + 1


def test_a_failed_write_is_cut_back_and_later_records_stay_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path)
    spool.add(result(0))
    real_write = os.write

    def half_write(fd: int, data: bytes) -> int:
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_write)
    with pytest.raises(OSError, match="No space"):
        spool.add(result(1))
    with pytest.raises(OSError, match="No space"):
        spool.next_live(10)  # a batch that cannot be recorded is not sent
    monkeypatch.setattr(os, "write", real_write)
    spool.add(result(2))
    spool.close()
    again = Spool(tmp_path)
    again.rewind()
    batch = again.next_backlog(10)
    assert batch is not None
    assert checks(batch.message)[1] == ["c0", "c2"]


def test_seq_keeps_up_with_the_wall_clock(tmp_path: Path) -> None:
    # Batch seqs once grew by one from the boot time, so a mark a shared-token
    # holder set at "now" under this agent's id stayed ahead of every later
    # batch: all counted duplicates by the collector. Tracking the clock
    # bounds that to the collector's seq limit.
    spool = Spool(tmp_path)
    spool.next_seq = 1  # as if booted long ago
    spool.add(result(0))
    spool.add(result(1))
    a, b = spool.next_live(1), spool.next_live(1)
    assert a is not None and b is not None
    assert a.seq == 1
    assert b.seq >= time.time_ns() // 1000 - 60_000_000
