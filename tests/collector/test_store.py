"""The SQLite store against a real file in tmp_path: round trips, and a
reopened file keeps everything."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.alerting.heartbeats import MISSED, HeartbeatMonitor, HeartbeatPolicy, hash_token
from collector.alerting.rows import Rows
from collector.store import FILENAME, SCHEMA_VERSION, Store, StoreError
from collector.store_check import inspect


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in its own state dir."""
    with Store.open(tmp_path / "state") as opened:
        yield opened


def reopen(store: Store) -> Store:
    """Close `store` and open its file again, as a restarted collector does."""
    store.close()
    return Store(store.path)


def incident(
    check: str, started: float, resolved: float | None = None, **extra: Any
) -> dict[str, Any]:
    """An `Incident.to_dict()`-shaped record."""
    return {
        "id": f"{check}@{int(started)}",
        "check": check,
        "alertname": "CheckDown",
        "started_at": started,
        "confirmed_at": started + 20,
        "resolved_at": resolved,
        "regions": {"eu-west": {"reason": "connect_refused", "request_id": "req-1"}},
        "first_request_id": "req-1",
        "release": "v1.4.2",
        "attribution": "",
        **extra,
    }


def test_open_creates_wal_file_with_schema_version(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a" / "b") as store:
        assert store.path == tmp_path / "a" / "b" / FILENAME
        assert store.path.exists()
        assert store.schema_version() == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / "a" / "b" / FILENAME)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    finally:
        db.close()


def test_reopen_does_not_migrate_twice(store: Store) -> None:
    store.save_state("evaluator", {"version": 1})
    again = reopen(store)
    try:
        assert again.schema_version() == SCHEMA_VERSION
        assert again.load_state("evaluator") == {"version": 1}
    finally:
        again.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / FILENAME)
    with db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(StoreError, match="newer than this collector's"):
        Store.open(tmp_path)
    # `vantage state check` said "OK (schema N+1)" for the file the collector refuses
    with pytest.raises(StoreError, match="newer than this collector's"):
        inspect(tmp_path)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store.open(tmp_path)


@pytest.mark.parametrize(
    "data",
    [
        {"version": 1, "checks": {"home": {"regions": {}}}, "active": {}},
        {"seq": {"agent-eu": 42, "agent-us": 7}},
        {"unicode": "Grüße ✓", "nested": [1, 2.5, None, True]},
    ],
    ids=["evaluator", "dedup", "unicode"],
)
def test_state_round_trip_survives_reopen(store: Store, data: dict[str, Any]) -> None:
    store.save_state("key", data)
    assert store.load_state("key") == data
    again = reopen(store)
    try:
        assert again.load_state("key") == data
    finally:
        again.close()


def test_state_replace_and_missing(store: Store) -> None:
    assert store.load_state("dispatcher") is None
    store.save_state("dispatcher", {"version": 1, "groups": []})
    store.save_state("dispatcher", {"version": 1, "groups": [{"key": "k"}]})
    assert store.load_state("dispatcher") == {"version": 1, "groups": [{"key": "k"}]}


def test_incidents_newest_first_and_upsert(store: Store) -> None:
    store.upsert_incident(incident("home", 100.0, resolved=200.0))
    store.upsert_incident(incident("api", 300.0))
    store.upsert_incident(incident("shop", 200.0, fingerprint="abc123"))
    assert [i["id"] for i in store.list_incidents()] == ["api@300", "shop@200", "home@100"]
    store.upsert_incident(incident("api", 300.0, resolved=400.0))  # it ended
    assert store.list_incidents(limit=1)[0]["resolved_at"] == 400.0
    assert [i["id"] for i in store.list_incidents(open_only=True)] == ["shop@200"]
    assert store.list_incidents(limit=0) == []


def test_incidents_survive_reopen(store: Store) -> None:
    record = incident("home", 100.0, fingerprint="f00d")
    store.upsert_incident(record)
    again = reopen(store)
    try:
        assert again.list_incidents() == [record]
    finally:
        again.close()


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ({"check": "home", "started_at": 1.0}, "incident without 'id'"),
        ({"id": "x", "started_at": 1.0}, "incident without 'check'"),
    ],
    ids=["no-id", "no-check"],
)
def test_incident_needs_id_and_check(store: Store, record: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        store.upsert_incident(record)


def test_bad_limit(store: Store) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        store.list_incidents(limit=-1)


def test_deploys(store: Store) -> None:
    store.record_deploy("portal", "v1.4.1", 100.0)
    store.record_deploy("portal", "v1.4.2", 300.0)
    store.record_deploy("portal", "v1.4.2", 300.0)  # a retried POST
    store.record_deploy("api", "v7", 200.0, source="header")
    again = reopen(store)
    try:
        assert again.deploys_since(200.0) == [
            {"service": "api", "version": "v7", "at": 200.0, "source": "header"},
            {"service": "portal", "version": "v1.4.2", "at": 300.0, "source": "api"},
        ]
        assert len(again.deploys_since(0.0)) == 3
    finally:
        again.close()


def silence(silence_id: str, starts: float, ends: float) -> dict[str, Any]:
    """A `Silence.to_dict()`-shaped record."""
    return {
        "id": silence_id,
        "matchers": {"match": {"check": "home"}, "match_re": {}},
        "starts_at": starts,
        "ends_at": ends,
        "comment": "maintenance",
        "created_by": "ops",
    }


def test_silences(store: Store) -> None:
    store.save_silence(silence("b", 200.0, 300.0))
    store.save_silence(silence("a", 100.0, 150.0))
    store.save_silence({**silence("b", 200.0, 250.0), "comment": "shorter"})
    again = reopen(store)
    try:
        assert [(s["id"], s["ends_at"]) for s in again.list_silences()] == [
            ("a", 150.0),
            ("b", 250.0),
        ]
        assert again.list_silences()[1]["comment"] == "shorter"
        assert again.delete_silence("a") is True
        assert again.delete_silence("a") is False
        assert again.prune_silences(now=250.0) == 1
        assert again.list_silences() == []
    finally:
        again.close()


def test_token_hashes(store: Store) -> None:
    store.save_token_hash("backup", hash_token("first"))
    store.save_token_hash("report", hash_token("other"))
    store.save_token_hash("backup", hash_token("rotated"))
    again = reopen(store)
    try:
        assert again.token_hashes() == {
            "backup": hash_token("rotated"),
            "report": hash_token("other"),
        }
        assert again.delete_token_hash("report") is True
        assert set(again.token_hashes()) == {"backup"}
    finally:
        again.close()


@pytest.mark.parametrize(
    "value",
    ["Zq3-secret-token-value-that-is-long-enough", "A" * 64, "ab" * 31],
    ids=["a-plain-token", "uppercase", "too-short"],
)
def test_only_digests_are_stored(store: Store, value: str) -> None:
    with pytest.raises(ValueError, match="must be a sha256 hex digest") as caught:
        store.save_token_hash("backup", value)
    assert value not in str(caught.value)
    assert store.token_hashes() == {}


def test_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.close()
    store.close()  # twice is fine
    with pytest.raises(StoreError):
        store.load_state("x")


def test_heartbeat_deadline_survives_restart_through_sqlite(store: Store) -> None:
    backup = HeartbeatPolicy(name="backup", period=3600.0, grace=300.0)
    monitor = HeartbeatMonitor([backup], now=0.0)
    token = monitor.issue_token("backup")
    store.save_token_hash("backup", hash_token(token))
    monitor.ping("backup", "success", 100.0)
    store.save_state("heartbeats", monitor.export_state())
    again = reopen(store)
    try:
        state = again.load_state("heartbeats")
        assert state is not None
        fresh = HeartbeatMonitor([backup], now=9000.0)
        fresh.load_state(state, 9000.0)
        fresh.load_token_hashes(again.token_hashes())
        assert [a.name for a in fresh.tick(9000.0)] == [MISSED]
        assert fresh.check_for_token(token) == "backup"
        files = [again.path, again.path.with_name(FILENAME + "-wal")]
        assert all(token.encode() not in f.read_bytes() for f in files if f.exists())
    finally:
        again.close()


def test_rows_are_upserted_and_deleted_in_one_write(store: Store) -> None:
    checks = "evaluator.checks"
    assert store.save_rows({checks: Rows({"a": {"v": 1}, "b": {"v": 1}})})
    assert store.save_rows({checks: Rows({"a": {"v": 2}}, ["b"])})
    assert store.save_rows({checks: Rows({"b": {"v": 3}}, ["b"])})  # removed, then added again
    again = reopen(store)
    assert again.load_rows(checks) == {"a": {"v": 2}, "b": {"v": 3}}
    again.close()


def test_kinds_of_rows_and_blobs_are_written_together_and_apart(store: Store) -> None:
    store.save_state("dispatcher", {"version": 1, "groups": []})  # an older collector's blob
    assert store.save_rows(
        {
            "lifecycle.active": Rows({"x": {"v": 1}, "y": {"v": 1}}),
            "dispatcher.groups": Rows({"x": {"g": 1}}),
        },
        {"evaluator": {"by_rows": True}, "dispatcher": None},
    )
    assert store.load_state("dispatcher") is None and store.load_state("evaluator") == {
        "by_rows": True
    }
    assert store.save_rows(
        {"lifecycle.active": Rows({"z": {"v": 2}}, whole=True)}
    )  # replaces the kind
    again = reopen(store)
    assert again.load_rows("lifecycle.active") == {"z": {"v": 2}}
    assert again.load_rows("dispatcher.groups") == {"x": {"g": 1}}  # another kind is untouched
    assert again.load_rows("lifecycle.damped") == {}
    again.close()


def test_a_version_3_file_keeps_its_check_rows(tmp_path: Path) -> None:
    """Version 3 kept check rows in their own table; version 4 keeps every
    kind of row in one."""
    from collector.store import _MIGRATIONS  # noqa: PLC0415  # the older schema, as it was

    tmp_path.mkdir(exist_ok=True)
    with sqlite3.connect(tmp_path / FILENAME) as db:
        for statements in _MIGRATIONS[:3]:
            for statement in statements:
                db.execute(statement)
        db.execute("INSERT INTO schema_version (version) VALUES (3)")
        db.execute("INSERT INTO check_state (name, data) VALUES ('home', '{\"v\": 1}')")
    db.close()
    with Store.open(tmp_path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 4
        assert store.load_rows("evaluator.checks") == {"home": {"v": 1}}


def test_handed_off_checkpoints_leave_commits_to_the_log(store: Store, tmp_path: Path) -> None:
    """After `hand_off_checkpoints` no commit copies the log into the file
    (SQLite's own checkpoint ran in the commit past 1,000 pages); only
    `checkpoint` does, and then the file alone holds every write."""
    store.hand_off_checkpoints()
    for n in range(3):  # ~750 pages each: 2,250 pages in all, never reset
        store.save_state(f"big{n}", {"text": "x" * 3_000_000})
    pages, copied = store.checkpoint()
    assert pages > 2000
    assert copied == pages
    alone = tmp_path / "alone.db"
    alone.write_bytes(store.path.read_bytes())  # the database file without its log
    db = sqlite3.connect(alone)
    try:
        keys = sorted(k for (k,) in db.execute("SELECT key FROM kv WHERE key LIKE 'big%'"))
    finally:
        db.close()
    assert keys == ["big0", "big1", "big2"]


def test_commits_checkpoint_on_their_own_unless_handed_off(store: Store) -> None:
    """The reference: without the hand-off the third write starts a new log."""
    for n in range(3):
        store.save_state(f"big{n}", {"text": "x" * 3_000_000})
    store.hand_off_checkpoints()  # only to read the log's length
    pages, _copied = store.checkpoint()
    assert pages < 1000


def test_the_log_stays_short_while_the_loop_commits_without_pause(store: Store) -> None:
    """A checkpoint in a thread copies the log while the event loop goes on
    committing (a dedup mark per batch): the log must still start over,
    not grow without bound (a PASSIVE checkpoint alone never caught up with
    a writer that never pauses for long: 311 MB after 60,000 commits)."""
    store.hand_off_checkpoints()
    done = threading.Event()
    longest = 0

    def checkpoints() -> None:
        while not done.is_set():
            store.checkpoint()
            time.sleep(0.005)

    thread = threading.Thread(target=checkpoints)
    thread.start()
    try:
        wal = store.path.with_name(store.path.name + "-wal")
        for n in range(12_000):  # ~2,500 commits a second, as in a 50,000-check flood
            store.save_mark(f"agent:a{n % 3}", n)
            time.sleep(0.0003)
            if n % 500 == 0:
                store.save_rows({"evaluator.checks": Rows({f"c{n}": {"x": "y" * 2000}}, ())})
                longest = max(longest, wal.stat().st_size)
    finally:
        done.set()
        thread.join()
    assert longest < 8 << 20, f"the log reached {longest >> 20} MB"  # PASSIVE alone: 20 MB
    assert store.marks() == {"agent:a0": 11_997, "agent:a1": 11_998, "agent:a2": 11_999}
