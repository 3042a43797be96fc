"""The detection budget: the worst-case time from a target starting to fail
to the page, computed from a check's own settings. Pure.

It follows the agent's scheduler (`agent/scheduler.after_result`) and the
collector's evaluator:

1. the target fails just after a probe started, so that probe still
   passes: the first failing probe starts one `interval` later;
2. a probe that hangs ends after `timeout` (a fast error ends sooner, so a
   hang is the worst case);
3. a failure is re-checked once after `retry_after` when that comes before
   the next regular slot; a failing re-check goes back to the regular
   schedule, and the next failure is re-checked again, and so on;
4. a region is down at its `failure_threshold`-th consecutive failure; every
   region probes at the same phase of the interval, so a quorum confirms
   together;
5. then `SLACK`: the agent's batch flush (at most 1 s), the collector's
   evaluation tick (1 s) and the dispatch to a receiver (critical alerts
   have no group_wait).

For the defaults (interval 60 s, timeout 10 s, retry_after 10 s, threshold
2) that is 60 + 10 + 10 + 10 + 5 = 95 s.
"""

from __future__ import annotations

import math

from common.config.base import CheckBase

SLACK = 5.0
"""Seconds from the confirming result to the page: agent flush (<= 1 s),
evaluation tick (1 s), dispatch and the receiver's first attempt."""
DEFAULT_BUDGET = 120.0
"""`alerting.detection_budget` unless set: the two minutes we promise."""


def time_to_confirm(interval: float, timeout: float, retry_after: float, failures: int) -> float:
    """Seconds from the target failing (just after a probe started) to the
    end of the `failures`-th failing probe, every probe hanging to `timeout`."""
    now, retried = interval + timeout, False  # the first failing probe ends
    for _ in range(failures - 1):
        regular = (math.floor(now / interval) + 1) * interval  # phase 0: slots at k * interval
        if not retried and retry_after < regular - now:
            now, retried = now + retry_after + timeout, True
        else:
            now, retried = regular + timeout, False
    return now


def time_to_page(check: CheckBase) -> float:
    """The check's worst-case seconds from failure to page (see the module doc)."""
    confirm = time_to_confirm(
        check.interval, check.timeout, check.retry_after, check.failure_threshold
    )
    return confirm + SLACK
