"""SQLite persistence for the collector: one file, `<state_dir>/vantage.db`,
so `make run` needs no database server (DESIGN.md, Persistence).

Tables:
- `kv`: JSON state blobs by key: the evaluator's header, the deploy
  records and the heartbeat monitor (`save_state`/`load_state`).
- `state_rows`: state kept by row, one JSON row per (kind, key)
  (`save_rows`/`load_rows`, `collector.alerting.rows`): each check's
  evaluator state, each firing alert, each dispatcher group and each of its
  alerts. A save writes the rows that changed, not the whole state. Blobs
  from before it (the evaluator's with `checks` or `lifecycle` in it, the
  dispatcher's) still load, and are replaced by rows at the next save.
- `dedup`: the highest batch seq ingested per authenticated agent identity.
- `incidents`: one row per incident id, for `/api/v1/incidents`.
- `deploys`: every recorded deploy, for release attribution and the API.
- `silences`: the silences set through the API.
- `heartbeat_tokens`: the sha256 of each heartbeat job's ping token. Never
  the token itself: `save_token_hash` refuses anything but a digest.
- `schema_version`: the schema version; `_MIGRATIONS` brings an older file up
  to date when it is opened, and a newer file is refused, not damaged.

**Called from the event loop.** Every public method is synchronous and one
short transaction on a local file: a single statement, or a few rows. WAL
mode with `synchronous=NORMAL` means a commit appends to the log without an
fsync (that happens at checkpoints), so a call costs microseconds to about a
millisecond. The collector hands checkpoints to a thread
(`hand_off_checkpoints`), so no commit on the loop copies the log. A
process crash loses nothing committed; a power cut may lose
the last few commits, which the next state save rewrites anyway. Keep it
that way: no unbounded scans (listings take a limit or read small tables),
and nothing here waits on anything but the disk. `busy_timeout` is short so
another process holding the write lock (a CLI, a backup) delays the loop by
at most a second before the call fails.

**A failed write never raises.** The disk may fill up or turn read-only
under a running collector; alerting must keep paging from memory. A write
that fails is kept, keyed by what it writes (the newest write of a row
wins), counted through `on_error`, and retried before the next write and on
every `retry()`; `problem` says what is wrong until every kept write is on
disk. Reads still raise `StoreError`. A file that is not a sound database is
refused at open (`CorruptStore`); `collector.store_check` has the offline
check and reset behind `vantage state`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

from collector.alerting.rows import Rows

log = structlog.get_logger("collector.store")

FILENAME = "vantage.db"
BUSY_TIMEOUT_MS = 1000
RESTART_PAGES = 1000
"""Pages of log (4 MB) past which a checkpoint makes it start over (SQLite's
own threshold for its checkpoints)."""

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the first schema
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "CREATE TABLE kv (key TEXT PRIMARY KEY, data TEXT NOT NULL)",
        """CREATE TABLE incidents (
            id TEXT PRIMARY KEY,
            check_name TEXT NOT NULL,
            started_at REAL NOT NULL,
            resolved_at REAL,
            release TEXT NOT NULL DEFAULT '',
            request_id TEXT NOT NULL DEFAULT '',
            fingerprint TEXT NOT NULL DEFAULT '',
            data TEXT NOT NULL
        )""",
        "CREATE INDEX incidents_newest ON incidents (started_at DESC, id DESC)",
        """CREATE TABLE deploys (
            service TEXT NOT NULL,
            version TEXT NOT NULL,
            at REAL NOT NULL,
            source TEXT NOT NULL DEFAULT 'api',
            PRIMARY KEY (service, version, at)
        )""",
        "CREATE INDEX deploys_at ON deploys (at)",
        """CREATE TABLE silences (
            id TEXT PRIMARY KEY,
            starts_at REAL NOT NULL,
            ends_at REAL NOT NULL,
            data TEXT NOT NULL
        )""",
        """CREATE TABLE heartbeat_tokens (
            check_name TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64)
        )""",
    ),
    (  # 2: dedup marks by authenticated identity, one row each, written per batch
        "CREATE TABLE dedup (key TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
        "DELETE FROM kv WHERE key = 'dedup'",  # marks by claimed id: not to be trusted
    ),
    (  # 3: the evaluator's state by check, so a save writes only what changed
        "CREATE TABLE check_state (name TEXT PRIMARY KEY, data TEXT NOT NULL)",
    ),
    (  # 4: state by row of every kind (checks, firing alerts, dispatcher groups)
        """CREATE TABLE state_rows (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        )""",
        "INSERT INTO state_rows (kind, key, data) "
        "SELECT 'evaluator.checks', name, data FROM check_state",
        "DROP TABLE check_state",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
"""The version this code writes; a migration is appended to `_MIGRATIONS`."""

_INCIDENTS = "SELECT data FROM incidents ORDER BY started_at DESC, id DESC LIMIT ?"
_OPEN_INCIDENTS = (
    "SELECT data FROM incidents WHERE resolved_at IS NULL ORDER BY started_at DESC, id DESC LIMIT ?"
)
_SAVE_STATE = (
    "INSERT INTO kv (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data"
)
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


MAX_PENDING = 10_000
"""Failed writes kept for retry; past it the oldest are dropped (and counted):
state blobs are rewritten every few seconds, so only old incident and deploy
rows can be lost, and only after a long outage of the disk."""


class StoreError(Exception):
    """The state database cannot be opened, migrated or read."""


class CorruptStore(StoreError):
    """The file is not a sound database: `store_check.recovery` says what to run."""


class Store:
    """The collector's SQLite database; see the module docstring."""

    def __init__(self, path: str | Path, on_error: Callable[[], None] = lambda: None) -> None:
        """Open (creating and migrating as needed) the database at `path`;
        `on_error` is called for every failed write."""
        self.path = Path(path)
        self.on_error = on_error
        self._write_problem: str | None = None
        """Why writes are failing, None while they work."""
        self._pending: OrderedDict[str, tuple[str, tuple[Any, ...]]] = OrderedDict()
        self._wal: sqlite3.Connection | None = None
        """The connection that checkpoints the log (`hand_off_checkpoints`)."""
        self._wal_lock = threading.Lock()
        self._wal_problem: str | None = None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open: {exc}") from exc
        try:
            self._configure()
            self._check()
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, state_dir: str | Path, on_error: Callable[[], None] = lambda: None) -> Store:
        """Open `<state_dir>/vantage.db`, creating the directory if needed."""
        directory = Path(state_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{directory}: cannot create the state dir: {exc.strerror}") from exc
        if not os.access(directory, os.W_OK):
            raise StoreError(f"{directory}: the state dir is not writable")
        return cls(directory / FILENAME, on_error)

    def close(self) -> None:
        """Close the database; further calls fail. Closing twice is fine."""
        with self._wal_lock:  # after a checkpoint under way in a thread
            if self._wal is not None:
                self._wal.close()
                self._wal = None
        self._db.close()

    @property
    def problem(self) -> str | None:
        """Why writes are failing, or why the log cannot be copied into the
        file; None while the store works."""
        if self._write_problem is not None:
            return self._write_problem
        return None if self._wal_problem is None else f"checkpoint: {self._wal_problem}"

    def hand_off_checkpoints(self) -> None:
        """Commits stop copying the log into the database file; `checkpoint`
        does it instead, in a thread. SQLite checkpoints in the commit that
        takes the log past 1,000 pages, and at 50,000 checks (a dedup mark
        committed per batch) that was a 0.1-0.25 s hold of the event loop
        every few seconds, most of it writing and syncing the file."""
        self._db.execute("PRAGMA wal_autocheckpoint = 0")
        # A log that starts over keeps its file, which commits then write
        # over without asking the disk for room: a full disk went unseen
        # (no failed write, /readyz green) until the file had to grow.
        # Truncated at each start over, the next commit asks again.
        self._db.execute("PRAGMA journal_size_limit = 0")
        with self._wal_lock:
            if self._wal is None:
                self._wal = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )
                self._wal.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def checkpoint(self) -> tuple[int, int]:
        """Copy the log into the database file without stopping writers
        (`PASSIVE`); safe in a thread, one call at a time. Returns the log's
        pages and those copied. A log over `RESTART_PAGES` is then made to
        start over (`RESTART`): a writer that never pauses (a dedup mark per
        batch) appends while a PASSIVE checkpoint copies, so the log is never
        all copied and never starts over by itself (311 MB after 60,000
        commits in a model of the collector's writes). The RESTART has only
        what came meanwhile left to copy, so the writers it holds back wait
        a few milliseconds, not the whole copy. A failure (a full disk: the
        log's pages cannot go into the file) is counted, logged once until
        it clears, and a `problem` meanwhile: commits still land in the log,
        which grows until a checkpoint works."""
        with self._wal_lock:
            if self._wal is None:
                return (0, 0)
            try:
                row = self._wal.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if row[1] > RESTART_PAGES:
                    self._wal.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            except sqlite3.Error as exc:
                self.on_error()
                if self._wal_problem != str(exc):
                    log.error("store.checkpoint_failed", path=str(self.path), error=str(exc))
                self._wal_problem = str(exc)
                return (0, 0)
        if self._wal_problem is not None:
            self._wal_problem = None
            log.info("store.checkpoint_recovered", path=str(self.path))
        _busy, pages, copied = row
        return (int(pages), int(copied))

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        rows = self._query("SELECT version FROM schema_version")
        return int(rows[0][0]) if rows else 0

    # --- state blobs ----------------------------------------------------

    def save_state(self, key: str, data: Mapping[str, Any]) -> None:
        """Store a JSON-able state blob under `key`, replacing the old one."""
        self._execute(_SAVE_STATE, (key, _dumps(data)), key=f"kv:{key}")

    def load_state(self, key: str) -> dict[str, Any] | None:
        """The blob saved under `key`, or None if there is none."""
        rows = self._query("SELECT data FROM kv WHERE key = ?", (key,))
        return _loads(rows[0][0], f"state {key!r}") if rows else None

    # --- state rows ---------------------------------------------------

    def save_rows(
        self, parts: Mapping[str, Rows], blobs: Mapping[str, Mapping[str, Any] | None] | None = None
    ) -> bool:
        """Write the rows of each kind in `parts` (upserts, deletes, or the
        whole kind), and set (or, for None, delete) the state `blobs`, in
        one transaction. False when the write failed: nothing is kept here,
        the caller writes its rows again (a newer version of each by then)."""
        if self._pending and not self.retry():
            return False
        try:
            with self._transaction() as db:  # deletes first: a row removed and added again
                for kind, part in parts.items():
                    if part.whole:
                        db.execute("DELETE FROM state_rows WHERE kind = ?", (kind,))
                    else:
                        db.executemany(
                            "DELETE FROM state_rows WHERE kind = ? AND key = ?",
                            [(kind, key) for key in part.removed],
                        )
                    db.executemany(
                        "INSERT INTO state_rows (kind, key, data) VALUES (?, ?, ?) "
                        "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
                        [(kind, key, _dumps(data)) for key, data in part.rows.items()],
                    )
                for key, blob in (blobs or {}).items():
                    if blob is None:
                        db.execute("DELETE FROM kv WHERE key = ?", (key,))
                    else:
                        db.execute(_SAVE_STATE, (key, _dumps(blob)))
        except (sqlite3.Error, StoreError) as exc:
            self._failed(str(exc))
            return False
        return True

    def load_rows(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every row of `kind`, by key."""
        rows = self._query("SELECT key, data FROM state_rows WHERE kind = ?", (kind,))
        return {str(key): _loads(data, f"{kind} row {key!r}") for key, data in rows}

    # --- dedup marks ----------------------------------------------------

    def save_mark(self, key: str, seq: int) -> None:
        """Record that batch `seq` of identity `key` was ingested. Written
        before the batch is acked, so a collector killed after the ack never
        counts the batch again (one row upsert: ~15 us)."""
        self._execute(
            "INSERT INTO dedup (key, seq) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET seq = excluded.seq",
            (key, seq),
            key=f"dedup:{key}",
        )

    def marks(self) -> dict[str, int]:
        """Every dedup mark, by identity key."""
        return {str(k): int(v) for k, v in self._query("SELECT key, seq FROM dedup")}

    # --- incidents ------------------------------------------------------

    def upsert_incident(self, incident: Mapping[str, Any]) -> None:
        """Insert or update an incident by its `id`.

        Takes `Incident.to_dict()` output: `id`, `check`, `started_at`,
        `resolved_at`, `regions` (each with its failure reason), `release`,
        `first_request_id`; plus `fingerprint`, the alert's, when the caller
        adds it. The whole dict is kept and returned by `list_incidents`.
        """
        row = _incident_row(incident)
        self._execute(
            "INSERT INTO incidents (id, check_name, started_at, resolved_at, release, "
            "request_id, fingerprint, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET check_name = excluded.check_name, "
            "started_at = excluded.started_at, resolved_at = excluded.resolved_at, "
            "release = excluded.release, request_id = excluded.request_id, "
            "fingerprint = excluded.fingerprint, data = excluded.data",
            row,
            key=f"incident:{row[0]}",
        )

    def list_incidents(self, limit: int = 100, open_only: bool = False) -> list[dict[str, Any]]:
        """Incidents, newest first (by start); `open_only`: not resolved yet."""
        if limit < 0:
            raise ValueError(f"limit {limit}: must not be negative")
        rows = self._query(_OPEN_INCIDENTS if open_only else _INCIDENTS, (limit,))
        return [_loads(data, "incident") for (data,) in rows]

    # --- deploys --------------------------------------------------------

    def record_deploy(self, service: str, version: str, at: float, source: str = "api") -> None:
        """Record a deploy; the same (service, version, at) twice is one deploy,
        so a pipeline that retries its POST does not count twice."""
        self._execute(
            "INSERT OR IGNORE INTO deploys (service, version, at, source) VALUES (?, ?, ?, ?)",
            (service, version, at, source),
            key=f"deploy:{service}:{version}:{at}",
        )

    def deploys_since(self, at: float) -> list[dict[str, Any]]:
        """Deploys at or after `at`, oldest first (the order to replay them
        into `Deploys.record`)."""
        rows = self._query(
            "SELECT service, version, at, source FROM deploys WHERE at >= ? "
            "ORDER BY at, service, version",
            (at,),
        )
        return [{"service": s, "version": v, "at": t, "source": src} for s, v, t, src in rows]

    # --- silences -------------------------------------------------------

    def save_silence(self, silence: Mapping[str, Any]) -> None:
        """Insert or replace a silence by `id` (`Silence.to_dict()` output)."""
        self._execute(
            "INSERT INTO silences (id, starts_at, ends_at, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET starts_at = excluded.starts_at, "
            "ends_at = excluded.ends_at, data = excluded.data",
            (
                _required(silence, "id", "silence"),
                float(silence["starts_at"]),
                float(silence["ends_at"]),
                _dumps(silence),
            ),
            key=f"silence:{silence['id']}",
        )

    def delete_silence(self, silence_id: str) -> bool:
        """Remove a silence; False when there was none with that id."""
        sql = "DELETE FROM silences WHERE id = ?"
        return self._execute(sql, (silence_id,), key=f"silence:{silence_id}") > 0

    def prune_silences(self, now: float) -> int:
        """Remove silences that ended by `now`; returns how many."""
        return self._execute("DELETE FROM silences WHERE ends_at <= ?", (now,))

    def list_silences(self) -> list[dict[str, Any]]:
        """Every stored silence, by start time."""
        rows = self._query("SELECT data FROM silences ORDER BY starts_at, id")
        return [_loads(data, "silence") for (data,) in rows]

    # --- heartbeat tokens -----------------------------------------------

    def save_token_hash(self, check: str, sha256_hex: str) -> None:
        """Store the sha256 hex digest of `check`'s ping token.

        Raises ValueError for anything but a lowercase 64-char hex digest, so
        a plain token can never end up on disk by mistake (the value is not
        echoed: it might be one)."""
        if not _SHA256_HEX.match(sha256_hex):
            raise ValueError(f"check {check!r}: token hash must be a sha256 hex digest")
        self._execute(
            "INSERT INTO heartbeat_tokens (check_name, sha256) VALUES (?, ?) "
            "ON CONFLICT (check_name) DO UPDATE SET sha256 = excluded.sha256",
            (check, sha256_hex),
            key=f"token:{check}",
        )

    def delete_token_hash(self, check: str) -> bool:
        """Forget `check`'s token (the check was removed); False if none."""
        sql = "DELETE FROM heartbeat_tokens WHERE check_name = ?"
        return self._execute(sql, (check,), key=f"token:{check}") > 0

    def token_hashes(self) -> dict[str, str]:
        """Every stored token hash, by check name."""
        rows = self._query("SELECT check_name, sha256 FROM heartbeat_tokens ORDER BY check_name")
        return {str(name): str(digest) for name, digest in rows}

    # --- internals ------------------------------------------------------

    def _configure(self) -> None:
        try:
            # journal_mode cannot change inside a transaction: set it first.
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise _open_error(self.path, exc) from exc

    def _migrate(self) -> None:
        # One transaction, version read inside it: two processes opening the
        # same new file cannot both apply migration 1.
        with self._transaction() as db:
            current = schema_version_of(db)
            refuse_newer(self.path, current)
            for statements in _MIGRATIONS[current:]:
                for statement in statements:
                    db.execute(statement)
            if current < SCHEMA_VERSION:
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        try:
            yield self._db
        except BaseException:
            with suppress(sqlite3.Error):  # SQLite may have rolled back itself (a full disk)
                self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with suppress(sqlite3.Error):  # a failed COMMIT may leave it open
                self._db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: {exc}") from exc

    def retry(self) -> bool:
        """Write what failed before; True when nothing is left to write."""
        while self._pending:
            key, (sql, params) = next(iter(self._pending.items()))
            try:
                self._db.execute(sql, params)
            except sqlite3.Error as exc:
                self._failed(str(exc))
                return False
            del self._pending[key]
        if self._write_problem is not None:
            self._write_problem = None
            log.info("store.recovered", path=str(self.path))
        return True

    def _execute(self, sql: str, params: tuple[Any, ...] = (), key: str | None = None) -> int:
        """Run one write statement (its own transaction in autocommit mode);
        returns the number of rows it changed, or 0 when it failed and was
        kept under `key` (the row it writes) for `retry`."""
        if self._pending and not self.retry():
            self._keep(key or sql, sql, params)
            return 0
        try:
            return self._db.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            self._keep(key or sql, sql, params)
            self._failed(str(exc))
            return 0

    def _keep(self, key: str, sql: str, params: tuple[Any, ...]) -> None:
        self._pending.pop(key, None)  # a newer write of the row goes last
        self._pending[key] = (sql, params)
        if len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
            self.on_error()

    def _failed(self, why: str) -> None:
        self.on_error()
        if self._write_problem != why:
            log.error("store.write_failed", path=str(self.path), error=why, kept=len(self._pending))
        self._write_problem = why

    def _check(self) -> None:
        """Refuse a file that is not a sound database (truncated, overwritten)."""
        try:
            rows = self._db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.Error as exc:
            raise _open_error(self.path, exc) from exc
        if rows != [("ok",)]:
            raise CorruptStore(f"{self.path}: corrupt: {rows[0][0]}")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc


def refuse_newer(path: Path, version: int) -> None:
    """StoreError when the file's schema `version` is one this code cannot read."""
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: schema version {version} is newer than this "
            f"collector's {SCHEMA_VERSION}; upgrade Vantage or use another state dir"
        )


def schema_version_of(db: sqlite3.Connection) -> int:
    """The schema version recorded in an open database (0 for a new file)."""
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = db.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def _open_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """CorruptStore when the file's content is bad; a plain StoreError when
    the disk or the permissions are (a full disk is no reason to reset)."""
    corrupt = isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in str(exc) or "malformed" in str(exc)
    )
    if corrupt:
        return CorruptStore(f"{path}: corrupt: {exc}")
    return StoreError(f"{path}: cannot use: {exc}")


def _incident_row(incident: Mapping[str, Any]) -> tuple[Any, ...]:
    resolved = incident.get("resolved_at")
    return (
        _required(incident, "id", "incident"),
        _required(incident, "check", "incident"),
        float(incident["started_at"]),
        None if resolved is None else float(resolved),
        str(incident.get("release") or ""),
        str(incident.get("first_request_id") or incident.get("request_id") or ""),
        str(incident.get("fingerprint") or ""),
        _dumps(incident),
    )


def _required(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not value:
        raise ValueError(f"{what} without {key!r}")
    return str(value)


def _dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _loads(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{what}: stored JSON is corrupt: {exc}") from exc
    if not isinstance(data, dict):
        raise StoreError(f"{what}: stored JSON is not an object")
    return data
