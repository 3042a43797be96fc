"""The agent's durable spool: append-only segment files vs SQLite in WAL mode.

Both keep every result on disk before it is sent and until its batch is
acked, in the production pattern of a 1,000-check agent at a 10 s interval:
100 results a second, each written alone as its probe ends (a real http
result, ~300 bytes), batched every 0.5 s flush (~50 results), the batch
acked, and the files fsynced once a second. CPU per result is this
process's, for the same work on each side, over RESULTS results:

- segments: `agent.spool.Spool` itself (write, BATCH and ACK records,
  the batch encoded for the stream, segment deletion);
- sqlite: a table (id, seq, started_at, data) in WAL mode with
  synchronous=NORMAL, one autocommit INSERT per result (a result must be
  on disk when its probe ends, as above), one UPDATE of the batch's rows
  and the batch read back, one DELETE per ack, and a checkpoint per fsync
  period (WAL's fsync).

    python -m bench.agent_spool
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent.spool import Spool
from bench._common import main_for
from bench._figures import REPS, Row, Run, Side, print_sides
from vantage.v1 import vantage_pb2 as pb

NAME = "agent_spool"
RESULTS = 20_000
BATCH = 50
"""Results per 0.5 s flush at 100 results a second."""
PER_FSYNC = 100
"""Results per fsync period (1 s at 100 results a second)."""


def sample_result(i: int) -> pb.Result:
    """An http result as the agent sends it, 2% failures."""
    result = pb.Result(
        check=f"check-{i % 1000:05d}",
        check_type="http",
        agent_id="eu-west-1",
        region="eu-west",
        started_at=1.8e9 + i * 0.01,
        duration_seconds=0.0123,
        success=i % 50 != 0,
        request_id=f"{i:032x}",
    )
    result.phases.connect = 0.001
    result.phases.processing = 0.004
    result.phases.transfer = 0.0002
    result.http.status_code = 200 if result.success else 503
    result.http.final_url = "https://portal.example.test/healthz"
    return result


def segments(directory: Path, results: list[pb.Result]) -> None:
    """The agent's spool over `results`."""
    spool = Spool(directory)
    for i, result in enumerate(results, 1):
        spool.add(result)
        if i % BATCH == 0:
            batch = spool.next_live(BATCH)
            assert batch is not None
            spool.ack(batch.seq)
        if i % PER_FSYNC == 0:
            spool.sync()
    spool.close()


def sqlite_wal(directory: Path, results: list[pb.Result]) -> None:
    """The same work on SQLite in WAL mode."""
    db = sqlite3.connect(directory / "spool.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, seq INTEGER, started REAL, data BLOB)")
    first = 1
    for i, result in enumerate(results, 1):
        db.execute(
            "INSERT INTO r (started, data) VALUES (?, ?)",
            (result.started_at, result.SerializeToString()),
        )
        if i % BATCH == 0:
            db.execute("UPDATE r SET seq = ? WHERE id BETWEEN ? AND ?", (i, first, i))
            rows = db.execute("SELECT data FROM r WHERE id BETWEEN ? AND ?", (first, i)).fetchall()
            pb.ResultBatch(seq=i, results=[pb.Result.FromString(d) for (d,) in rows])
            db.execute("DELETE FROM r WHERE id BETWEEN ? AND ?", (first, i))
            first = i + 1
        if i % PER_FSYNC == 0:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    db.close()


def measure(work: Callable[[Path, list[pb.Result]], None], results: list[pb.Result]) -> Run:
    """CPU and wall time of `work` over `results` in a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="vantage-bench-spool-") as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        work(Path(tmp), results)
        return Run(len(results), time.perf_counter() - wall, time.process_time() - cpu)


def run() -> list[Row]:
    """Both spools, interleaved, REPS times; one row with the ratio."""
    print(f"== {NAME}: durable spool, segment files vs SQLite WAL, {RESULTS:,} results")
    results = [sample_result(i) for i in range(RESULTS)]
    runs: dict[str, list[Run]] = {"segments": [], "sqlite WAL": []}
    for _ in range(REPS):
        runs["segments"].append(measure(segments, results))
        runs["sqlite WAL"].append(measure(sqlite_wal, results))
    sides = {name: Side(tuple(r)) for name, r in runs.items()}
    print_sides("write, batch, ack, fsync per second", "results", sides, micro=True)
    ours, theirs = sides["segments"], sides["sqlite WAL"]
    ratio = ours.per_cpu / theirs.per_cpu
    print(f"    ratio segments/sqlite (results per CPU-s): {ratio:.2f}x")
    value = f"{ours.cpu_per_1k * 1000:.1f} µs/result"
    baseline = f"sqlite WAL {theirs.cpu_per_1k * 1000:.1f} µs/result"
    return [Row(NAME, "spool CPU per result (write, batch, ack)", value, baseline, ratio)]


if __name__ == "__main__":
    main_for(NAME, run)
