"""The log pipeline `common.logs.setup` builds: what a JSON line carries."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

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


def _emit(cls: type, processors: list[Any], calls: Callable[[Any], None]) -> str:
    out = io.StringIO()
    log = cls(structlog.WriteLogger(out), processors=processors, context={"bound": 1})
    calls(log)
    return out.getvalue()


def _both_loggers(processors: list[Any], calls: Callable[[Any], None]) -> tuple[str, str]:
    level = logging.INFO
    theirs = _emit(structlog.make_filtering_bound_logger(level), processors, calls)
    ours = _emit(logs.wrapper_class(level), processors, calls)
    return theirs, ours


def _render(*rest: Any) -> list[Any]:
    chain = [structlog.contextvars.merge_contextvars, logs.Stamp(clock=lambda: 0)]
    return [*chain, structlog.processors.format_exc_info, *rest]


def _info_calls(log: Any) -> None:
    log.info("x.done", n=1, none=None, bound=2)
    log.bind(more="yes").info("x.bound")
    log.info("x.%s", "interpolated")
    log.debug("x.noise")
    try:
        raise ValueError("boom")
    except ValueError:
        log.info("x.failed", exc_info=True)


def test_the_info_line_is_the_one_structlog_writes() -> None:
    tokens = structlog.contextvars.bind_contextvars(request="r-1")
    try:
        theirs, ours = _both_loggers(_render(logs.Redacting(logs.render_json)), _info_calls)
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
    assert ours == theirs
    assert len(ours.splitlines()) == 4  # debug is below the level
    assert '"request":"r-1"' in ours and '"more":"yes"' in ours and "x.interpolated" in ours


def _as_tuple(logger: Any, name: str, event: dict[str, Any]) -> tuple[tuple[str], dict[str, Any]]:
    return (json.dumps(event, sort_keys=True),), {}


def _dropped(logger: Any, name: str, event: dict[str, Any]) -> Any:
    raise structlog.DropEvent


@pytest.mark.parametrize("last", [_as_tuple, _dropped], ids=["tuple", "dropped"])
def test_what_the_last_processor_returns_is_handed_on_as_structlog_does(last: Any) -> None:
    def calls(log: Any) -> None:
        log.info("x.done", n=1)

    theirs, ours = _both_loggers(_render(last), calls)
    assert ours == theirs
