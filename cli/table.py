"""The readable result table `vantage smoke` prints: one row per check,
then one indented line per finding under a failed check."""

from __future__ import annotations

from collections.abc import Sequence

from cli.findings import findings, reason_of
from vantage.v1 import vantage_pb2 as pb

_HEADER = ("check", "result", "latency", "reason")


def _row(result: pb.Result) -> tuple[str, str, str, str]:
    verdict = "PASS" if result.success else "FAIL"
    latency = f"{result.duration_seconds * 1000:.0f} ms"
    return result.check, verdict, latency, reason_of(result)


def render_table(results: Sequence[pb.Result]) -> str:
    """A fixed-width table: check, result, latency, reason; every finding
    of a failed check on its own line beneath it."""
    rows = [_HEADER, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [_line(_HEADER, widths)]
    for result, row in zip(results, rows[1:], strict=True):
        lines.append(_line(row, widths))
        lines += [f"    - {finding}" for finding in findings(result)]
    return "\n".join(lines)


def _line(row: tuple[str, str, str, str], widths: list[int]) -> str:
    cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
    return "  ".join([*cells, row[3]]).rstrip()
