"""Durations as written in YAML and on the command line (`500ms`, `30s`,
`2m`, `1h`, `7d`, and compounds such as `1h30m`), and as float seconds inside
the code."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d)"
_DURATION = re.compile(rf"^(?:{_PART})+$")
_PARTS = re.compile(_PART)
_ORDER = ("d", "h", "m", "s", "ms")


def parse_duration(text: str) -> float:
    """Parse `500ms`, `30s`, `2m`, `1h`, `7d` or a compound like `1h30m`
    (largest unit first, each unit once) into seconds.

    Raises ValueError with a message fit to show a user.
    """
    stripped = text.strip()
    parts = _PARTS.findall(stripped) if _DURATION.match(stripped) else []
    units = [unit for _, unit in parts]
    if not parts or units != sorted(set(units), key=_ORDER.index):
        raise ValueError(
            f"bad duration {text!r}: write a number with ms, s, m, h or d, e.g. 30s, 7d or 1h30m"
        )
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """Render seconds the way a user would write them (`90s`, `500ms`, `2m`, `7d`)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 600 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
