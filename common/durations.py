"""Durations as written in YAML (`500ms`, `30s`, `2m`, `1h`) and as float
seconds inside the code."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")


def parse_duration(text: str) -> float:
    """Parse `500ms`, `30s`, `2m` or `1h` into seconds.

    Raises ValueError with a message fit to show a user.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"bad duration {text!r}: write a number with ms, s, m or h, e.g. 30s")
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Render seconds the way a user would write them (`90s`, `500ms`, `2m`)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 600 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
