"""structlog set-up shared by every process: JSON lines when stdout is not a
TTY, readable lines when it is, and secret redaction on every line.

Every line is scrubbed by `common.redaction` once, as rendered: whatever a
value was (a string, a nested dict, an exception's repr), its text is in
the line, in the spelling the renderer gave it (JSON or repr escapes),
which the redactor knows. Secrets are registered there with `redact()`.

The agent writes one line per probe, so the JSON pipeline is kept short:
in the probe path a line runs with cold CPU caches (measured: 52 µs for
the first line after a probe, 15 µs for a third in a row), so what counts
is how little code and data a line touches. Level and timestamp are one
processor, the timestamp's date and time are formatted once a second,
orjson renders in one C call, the line goes out in one `write`, and an
`info` line builds its event dict once (`wrapper_class`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson
import structlog

from common.redaction import scrub

Renderer = structlog.typing.Processor

_LEVELS = {"warn": "warning", "exception": "error"}
"""Method names whose level has another name (as structlog's add_log_level)."""


class Redacting:
    """The last processor: `renderer`'s line with every secret scrubbed.

    One pass over the rendered line, where scrubbing each value before
    rendering cost one regex call per value (7 of the 26 µs of the agent's
    per-probe line) and missed values rendered by repr."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        """Render `event` and scrub the line."""
        line = self.renderer(logger, name, event)
        assert isinstance(line, str)  # both renderers set up below render text
        return scrub(line)


class Stamp:
    """Adds `level` and a UTC ISO-8601 `timestamp` with microseconds
    (`2026-11-30T04:54:26.123456Z`): the date and time of day are formatted
    once per second, each line adds only its microseconds."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self.clock = clock
        self._second = -1
        self._prefix = ""

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> Any:
        """Stamp `event` with the level of method `name` and the time now."""
        event["level"] = _LEVELS.get(name, name)
        event["timestamp"] = self.format(self.clock())
        return event

    def format(self, now_ns: int) -> str:
        """`now_ns` (Unix nanoseconds) as the timestamp a line carries."""
        second, micros = divmod(now_ns // 1000, 1_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{micros:06d}Z"


def _fallback(value: object) -> str:
    # What JSON cannot carry is shown by repr, as structlog's JSONRenderer does.
    return repr(value)


def render_json(logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
    """`event` as one JSON object (what `setup` renders lines with when not
    on a TTY); values JSON cannot carry are shown by their repr."""
    return orjson.dumps(event, default=_fallback, option=orjson.OPT_NON_STR_KEYS).decode()


def _result(logger: Any, result: Any) -> Any:
    """Hand the last processor's result to `logger`, as structlog does: a
    str, bytes or bytearray as the one argument, a tuple as (args, kwargs),
    a dict as keywords."""
    if isinstance(result, str | bytes | bytearray):
        return logger.info(result)
    if isinstance(result, tuple):
        return logger.info(*result[0], **result[1])
    if isinstance(result, dict):
        return logger.info(**result)
    raise ValueError(f"the last log processor returned a {type(result).__name__}")


def wrapper_class(level: int) -> type[Any]:
    """structlog's filtering logger for `level`, with `info` (the agent's
    line per probe) made in one call.

    structlog's own `info` builds the event dict three times (the keywords,
    a copy of the context, the copy updated) across four Python calls
    before the processors run; here it is built once, and the processors
    and the logger are the configured ones, so the line is the same
    (tests/common/test_logs.py compares the two). In the agent's per-probe
    path, where the line runs with cold caches, that took 10-25 µs off
    each probe (bench/_probe_worker agent, paired runs, c=1 and c=64)."""
    base: type[Any] = structlog.make_filtering_bound_logger(level)
    if level > logging.INFO:
        return base

    class Lean(base):  # type: ignore[misc]
        def info(self, event: str, *args: Any, **kw: Any) -> Any:
            """Log `event` at info, as structlog's `info` does."""
            if args:  # %-interpolation, as structlog does it
                return super().info(event, *args, **kw)
            event_dict: Any = {**self._context, **kw, "event": event}
            logger = self._logger
            try:
                for proc in self._processors:
                    event_dict = proc(logger, "info", event_dict)
            except structlog.DropEvent:
                return None
            return _result(logger, event_dict)

    return Lean


def setup(process: str, level: str = "info", json: bool | None = None) -> None:
    """Configure structlog for `process` (collector, agent, cli)."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = render_json if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            Stamp(),
            structlog.processors.format_exc_info,
            Redacting(renderer),
        ],
        wrapper_class=wrapper_class(logging.getLevelName(level.upper())),
        # One write per line (print would write the line and its newline apart).
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process)
