"""Offline checks of the state database, for `vantage state` and the
collector's start-up error: run with no collector holding the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from collector.store import FILENAME, StoreError, refuse_newer, schema_version_of


def recovery(state_dir: str | Path) -> str:
    """The commands that check and recover the state database in `state_dir`."""
    return (
        f"check it with `vantage state check --state-dir {state_dir}`; start afresh, keeping "
        f"a copy, with `vantage state reset --backup --state-dir {state_dir}`"
    )


def inspect(state_dir: str | Path) -> dict[str, int]:
    """Check `<state_dir>/vantage.db` without changing it: StoreError naming
    what is wrong, or its schema version and row counts."""
    path = Path(state_dir) / FILENAME
    if not path.exists():
        raise StoreError(f"{path}: no such file (a collector creates it on start)")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open: {exc}") from exc
    try:
        rows = db.execute("PRAGMA integrity_check").fetchall()
        if rows != [("ok",)]:
            raise StoreError(f"{path}: corrupt: {rows[0][0]}")
        counts = {"schema_version": schema_version_of(db)}
        refuse_newer(path, counts["schema_version"])  # "OK" for a file the collector refuses
        for table in ("incidents", "deploys", "silences", "dedup"):
            counts[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608  # names from the tuple above
        return counts
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: corrupt: {exc}") from exc
    finally:
        db.close()


def reset(state_dir: str | Path, backup: bool, now: float) -> list[Path]:
    """Move the database (and its WAL files) aside, so the next start begins
    with empty state; `backup` keeps them renamed `*.bad-<unix time>`,
    otherwise they are deleted. Returns the paths written or removed."""
    touched: list[Path] = []
    for suffix in ("", "-wal", "-shm"):
        path = Path(state_dir) / (FILENAME + suffix)
        if not path.exists():
            continue
        if backup:
            target = path.with_name(f"{path.name}.bad-{int(now)}")
            path.rename(target)
            touched.append(target)
        else:
            path.unlink()
            touched.append(path)
    return touched
