"""Bounds that make a check impossible or absurd, found at load time.

Each model validates its own fields; these rules need the whole check after
defaults (a quorum against the check's regions) or hold only for files a
person wrote (code and tests may build a check with a 0.2 s interval).
The loader reports each as `FILE:LINE: check 'x': field 'y': why`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from common.config.base import CheckBase
from common.durations import format_duration

MIN_INTERVAL = 1.0
"""Seconds: a faster probe is load on the target, not monitoring."""
MAX_INTERVAL = 86_400.0
"""Seconds: a probe less often than daily cannot page in time."""
MAX_THRESHOLD = 100
"""Consecutive results: beyond this, a region would never change state."""


def semantic_problems(check: CheckBase) -> list[tuple[str, str]]:
    """(field, why) for every impossible bound in `check`."""
    return list(_problems(check))


def _problems(check: CheckBase) -> Iterator[tuple[str, str]]:
    if check.probed and not MIN_INTERVAL <= check.interval <= MAX_INTERVAL:
        yield (
            "interval",
            f"field 'interval': {format_duration(check.interval)} is outside "
            f"{format_duration(MIN_INTERVAL)}..{format_duration(MAX_INTERVAL)}",
        )
    for field in ("failure_threshold", "success_threshold"):
        value = getattr(check, field)
        if value > MAX_THRESHOLD:
            yield field, f"field {field!r}: {value} is over the maximum of {MAX_THRESHOLD}"
    if isinstance(check.quorum, int) and check.quorum > len(check.regions):
        yield (
            "quorum",
            f"field 'quorum': {check.quorum} is more than the check's "
            f"{len(check.regions)} regions ({', '.join(check.regions)})",
        )
    target = getattr(check, "target", None)
    if check.type == "tls" and isinstance(target, str) and not _has_port(target):
        yield "target", f"field 'target': {target!r} has no port: write e.g. {target}:443"


def _has_port(target: str) -> bool:
    """Whether a `host:port` target writes its port (a bare IPv6 address does not)."""
    try:
        ipaddress.IPv6Address(target)
    except ValueError:
        return re.search(r":\d{1,5}$", target) is not None
    return False
