"""What a smoke result says is wrong, one finding per line, for every
report (table, JUnit, JSON): each failed assertion, or the failure itself
when the probe failed before it could judge."""

from __future__ import annotations

from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb

_JUDGED = frozenset({FailureReason.ASSERTION, FailureReason.HTTP_STATUS})


def reason_of(result: pb.Result) -> str:
    """The failure reason's name, empty for a success."""
    return "" if result.success else FailureReason.from_proto(result.reason).value


def findings(result: pb.Result) -> list[str]:
    """Every finding of a failed result; none for a success."""
    if result.success:
        return []
    failed = [
        f"{a.name}: {a.message}" if a.message else a.name for a in result.assertions if not a.ok
    ]
    if failed and FailureReason.from_proto(result.reason) in _JUDGED:
        return failed
    # The probe failed outright (or after some assertions passed): that
    # failure is the finding, after any assertion that failed on the way.
    return [*failed, f"{reason_of(result)}: {result.message}"]
