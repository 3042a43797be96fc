"""The store under faults, on a real SQLite file: a full database (SQLite's
own SQLITE_FULL, via max_page_count) never raises into the caller, is
counted, and is written once there is room; a corrupt file is refused at
open with the recovery command, and `vantage state` checks and resets it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cli.admin import check_state, reset_state
from collector.alerting.rows import Rows
from collector.store import FILENAME, CorruptStore, Store

BIG = {"blob": "x" * 200_000}


def fill(store: Store) -> None:
    """Let the database grow by no more pages than it has now: the next
    large write fails with 'database or disk is full'."""
    db = store._db  # the test reaches in to cap the file, as a full disk would
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")


def free(store: Store) -> None:
    store._db.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_disk_is_counted_and_kept_then_written_once_there_is_room(tmp_path: Path) -> None:
    errors: list[int] = []
    store = Store.open(tmp_path, on_error=lambda: errors.append(1))
    store.save_state("small", {"a": 1})
    fill(store)
    store.save_state("evaluator", BIG)  # does not raise
    store.upsert_incident({"id": "i1", "check": "home", "started_at": 1.0, **BIG})
    assert store.problem is not None and "full" in store.problem
    assert errors and store.load_state("evaluator") is None
    assert store.retry() is False
    free(store)
    assert store.retry() is True
    assert store.problem is None
    assert store.load_state("evaluator") == BIG
    assert [i["id"] for i in store.list_incidents()] == ["i1"]


def test_the_newest_write_of_a_row_wins_after_recovery(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    fill(store)
    store.save_state("evaluator", {**BIG, "v": 1})
    store.save_state("evaluator", {**BIG, "v": 2})
    free(store)
    store.save_state("other", {"a": 1})  # a later write first writes what was kept
    assert store.problem is None
    assert store.load_state("evaluator") == {**BIG, "v": 2}


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"\x00garbage" * 1000),
        lambda path: path.write_bytes(path.read_bytes()[:3000]),
    ],
    ids=["overwritten", "truncated"],
)
def test_a_corrupt_file_is_refused_and_state_commands_recover_it(
    tmp_path: Path, damage: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(tmp_path) as store:
        for n in range(200):
            store.upsert_incident({"id": f"i{n}", "check": "home", "started_at": n, **BIG})
    path = tmp_path / FILENAME
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    damage(path)  # type: ignore[operator]
    with pytest.raises(CorruptStore, match="corrupt"):
        Store.open(tmp_path)
    # The commands' functions, not cli.main: that sets up logging for the process.
    assert check_state(tmp_path) == 1
    assert "vantage state reset --backup" in capsys.readouterr().err
    assert reset_state(tmp_path, backup=True) == 0
    assert any(p.name.startswith(f"{FILENAME}.bad-") for p in tmp_path.iterdir())
    Store.open(tmp_path).close()
    assert check_state(tmp_path) == 0


def test_check_rows_that_cannot_be_written_are_handed_back_not_lost(tmp_path: Path) -> None:
    errors: list[int] = []
    store = Store.open(tmp_path, on_error=lambda: errors.append(1))
    fill(store)
    rows = {f"c{i}": BIG for i in range(3)}
    assert (
        store.save_rows({"evaluator.checks": Rows(rows, ())}) is False
    )  # does not raise; the caller keeps them
    assert errors and store.problem is not None and "full" in store.problem
    assert store.load_rows("evaluator.checks") == {}
    free(store)
    assert store.save_rows({"evaluator.checks": Rows(rows, ())}) is True
    assert store.problem is None or store.retry()
    assert sorted(store.load_rows("evaluator.checks")) == ["c0", "c1", "c2"]
    store.close()


def test_a_failed_checkpoint_is_a_problem_until_one_works(tmp_path: Path) -> None:
    """The log copied into a full disk fails in the checkpointing thread,
    not in a write: the store says so (/readyz) and counts it until a
    checkpoint works again."""
    errors: list[int] = []
    store = Store.open(tmp_path, on_error=lambda: errors.append(1))
    store.hand_off_checkpoints()
    store.save_state("small", {"a": 1})
    assert store.checkpoint()[0] > 0 and store.problem is None
    assert store._wal is not None
    store._wal.close()  # the test breaks the checkpoint's connection, as a full disk would
    store.save_state("small", {"a": 2})  # the write itself works: it lands in the log
    assert store.checkpoint() == (0, 0)
    assert store.problem is not None and store.problem.startswith("checkpoint: ")
    assert errors == [1]
    assert store.retry() is True and store.problem is not None  # no kept write fixes it
    store._wal = None
    store.hand_off_checkpoints()
    assert store.checkpoint()[0] > 0
    assert store.problem is None
    assert store.load_state("small") == {"a": 2}
