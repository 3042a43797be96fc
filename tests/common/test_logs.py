"""The log pipeline `common.logs.setup` builds: what a JSON line carries."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from common import logs, redaction
from common.redaction import REDACTED


@pytest.mark.parametrize(
    ("now_ns", "stamp"),
    [
        (0, "1970-01-01T00:00:00.000000Z"),
        (1_764_477_266_123_456_789, "2025-11-30T04:34:26.123456Z"),
        (1_764_477_266_999_999_999, "2025-11-30T04:34:26.999999Z"),
        (1_764_477_267_000_000_000, "2025-11-30T04:34:27.000000Z"),
        (1_767_225_599_000_001_000, "2025-12-31T23:59:59.000001Z"),
    ],
    ids=["epoch", "micros-truncated", "end-of-second", "next-second", "end-of-year"],
)
def test_stamp_formats_utc_iso_with_microseconds(now_ns: int, stamp: str) -> None:
    assert logs.Stamp().format(now_ns) == stamp


def test_stamp_reformats_the_second_when_it_changes() -> None:
    # The date and time are cached per second: a later second, and an
    # earlier one (a clock stepped back), each get their own.
    stamper = logs.Stamp()
    seconds = [10, 10, 11, 9, 9]
    got = [stamper.format(s * 1_000_000_000 + 5_000) for s in seconds]
    assert [g[17:19] for g in got] == ["10", "10", "11", "09", "09"]


@pytest.mark.parametrize(
    ("method", "level"),
    [("info", "info"), ("warning", "warning"), ("warn", "warning"), ("exception", "error")],
    ids=["info", "warning", "warn", "exception"],
)
def test_stamp_names_the_level(method: str, level: str) -> None:
    event = logs.Stamp(clock=lambda: 0)(None, method, {"event": "x.y"})
    assert event == {"event": "x.y", "level": level, "timestamp": "1970-01-01T00:00:00.000000Z"}


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    logs.setup("test", "info", json=True)
    yield out
    redaction.forget_all()


def test_a_json_line_carries_every_field_once_per_write(lines: io.StringIO) -> None:
    redaction.redact("hunter2-fake")  # pragma: allowlist secret
    log = structlog.get_logger("test")
    log.info("x.done", n=1, none=None, ratio=0.5, secret="hunter2-fake", obj=object(), raw=b"\x01")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("x.failed")
    first, second = (json.loads(line) for line in lines.getvalue().splitlines())
    assert first["event"] == "x.done" and first["process"] == "test"
    assert first["level"] == "info" and first["timestamp"].endswith("Z")
    assert (first["n"], first["none"], first["ratio"]) == (1, None, 0.5)
    assert first["secret"] == REDACTED
    assert first["obj"].startswith("<object object at") and first["raw"] == "b'\\x01'"
    assert second["level"] == "error" and "ValueError: boom" in second["exception"]


def test_a_line_below_the_level_is_not_written(lines: io.StringIO) -> None:
    structlog.get_logger("test").debug("x.noise")
    assert lines.getvalue() == ""
