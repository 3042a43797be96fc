"""The readable result table `vantage smoke` prints."""

from __future__ import annotations

from collections.abc import Sequence

from common.reasons import FailureReason
from common.redaction import scrub
from vantage.v1 import vantage_pb2 as pb

_HEADER = ("check", "result", "latency", "reason")


def _row(result: pb.Result) -> tuple[str, str, str, str]:
    verdict = "PASS" if result.success else "FAIL"
    reason = "" if result.success else FailureReason.from_proto(result.reason).value
    if result.message and not result.success:
        reason = f"{reason}: {scrub(result.message)}"
    return result.check, verdict, f"{result.duration_seconds * 1000:.0f} ms", reason


def render_table(results: Sequence[pb.Result]) -> str:
    """A fixed-width table: check, result, latency, reason."""
    rows = [_HEADER, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    return "\n".join(lines)
