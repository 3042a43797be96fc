"""Results wait here until the collector acks them.

Pending results are cut into numbered batches; a batch stays in flight until
its Ack arrives, and is re-sent with the same `seq` after a reconnect so the
collector's (agent_id, seq) dedup never counts it twice. Sequence numbers
start at the boot time in microseconds, so they keep increasing across agent
restarts without any state on disk.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque

from vantage.v1 import vantage_pb2 as pb


class Spool:
    """Bounded in-memory store of unacked results."""

    def __init__(self, limit: int, first_seq: int | None = None) -> None:
        self.limit = limit
        self.pending: deque[pb.Result] = deque()
        self.in_flight: OrderedDict[int, pb.ResultBatch] = OrderedDict()
        self.next_seq = first_seq if first_seq is not None else time.time_ns() // 1000
        self.dropped = 0
        self._in_flight_results = 0

    def __len__(self) -> int:
        return len(self.pending) + self._in_flight_results

    def add(self, result: pb.Result) -> None:
        """Queue a result; past the limit the oldest pending one is dropped."""
        self.pending.append(result)
        if len(self) > self.limit and self.pending:
            self.pending.popleft()
            self.dropped += 1

    def next_batch(self, max_size: int) -> pb.ResultBatch | None:
        """Move up to `max_size` pending results into a new in-flight batch."""
        if not self.pending:
            return None
        count = min(max_size, len(self.pending))
        batch = pb.ResultBatch(seq=self.next_seq)
        batch.results.extend(self.pending.popleft() for _ in range(count))
        self.next_seq += 1
        self.in_flight[batch.seq] = batch
        self._in_flight_results += count
        return batch

    def ack(self, seq: int) -> None:
        """Forget an acked batch (unknown seqs are ignored)."""
        batch = self.in_flight.pop(seq, None)
        if batch is not None:
            self._in_flight_results -= len(batch.results)

    def unacked(self) -> list[pb.ResultBatch]:
        """In-flight batches in seq order, to re-send after a reconnect."""
        return list(self.in_flight.values())
