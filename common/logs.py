"""structlog set-up shared by every process: JSON lines when stdout is not a
TTY, readable lines when it is, and secret redaction on every line.

Secrets (resolved `${env:...}` values, extracted tokens, agent tokens) are
registered with `redact()`; every string in every log event is scrubbed
before rendering.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"
_SECRETS: set[str] = set()


def redact(secret: str) -> None:
    """Never print `secret` in a log line from now on."""
    if len(secret) >= 4:  # shorter values would scrub ordinary words
        _SECRETS.add(secret)


def scrub(text: str) -> str:
    """`text` with every registered secret replaced."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return value


def _redact_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if not _SECRETS:
        return event
    return {k: _scrub_value(v) for k, v in event.items()}


def setup(process: str, level: str = "info", json: bool | None = None) -> None:
    """Configure structlog for `process` (collector, agent, cli)."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process)
