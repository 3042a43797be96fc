"""The spool keeps results until acked and re-sends with the same seq."""

from __future__ import annotations

from agent.spool import Spool
from vantage.v1 import vantage_pb2 as pb


def result(i: int) -> pb.Result:
    return pb.Result(check=f"c{i}")


def test_batches_are_numbered_and_kept_until_acked() -> None:
    spool = Spool(limit=100, first_seq=10)
    for i in range(5):
        spool.add(result(i))
    a = spool.next_batch(3)
    b = spool.next_batch(3)
    assert a is not None and b is not None
    assert (a.seq, len(a.results), b.seq, len(b.results)) == (10, 3, 11, 2)
    assert spool.next_batch(3) is None
    spool.ack(10)
    assert [x.seq for x in spool.unacked()] == [11]
    assert len(spool) == 2
    spool.ack(999)  # unknown acks are harmless
    assert len(spool) == 2


def test_full_spool_drops_oldest_pending() -> None:
    spool = Spool(limit=3, first_seq=1)
    for i in range(5):
        spool.add(result(i))
    assert spool.dropped == 2
    assert [r.check for r in spool.pending] == ["c2", "c3", "c4"]


def test_seq_starts_from_boot_time_so_restarts_keep_increasing() -> None:
    assert Spool(10).next_seq < Spool(10).next_seq
