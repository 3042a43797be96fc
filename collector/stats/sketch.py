"""Log-bucketed latency sketch (DDSketch-style) with 1% relative accuracy.

A value x lands in bucket ceil(log_gamma(x)); any quantile read back is
within 1% of a true sample value at that rank. Buckets are plain counts, so
sketches add and subtract exactly: a sliding window keeps a running total
and subtracts the slots that expire.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

ACCURACY = 0.01
_GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_MIN = 1e-6
"""Values below a microsecond share bucket `_ZERO`."""
_ZERO = -(10**6)


def bucket(value: float) -> int:
    """The bucket index of a latency in seconds."""
    if value <= _MIN:
        return _ZERO
    return math.ceil(math.log(value) / _LOG_GAMMA)


def buckets(values: Sequence[float]) -> Counter[int]:
    """Bucket counts of many latencies: `Counter(map(bucket, values))`, with
    the arithmetic done in C when every value is above `_MIN`."""
    if values and min(values) > _MIN:
        return Counter(map(math.ceil, map(_LOG_GAMMA.__rtruediv__, map(math.log, values))))
    return Counter(map(bucket, values))


def bucket_value(index: int) -> float:
    """A representative value of bucket `index`, within ACCURACY of any member."""
    if index == _ZERO:
        return 0.0
    return 2 * _GAMMA**index / (_GAMMA + 1)


def quantile(counts: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of the sketch `counts`, or None when empty.

    Uses the lower nearest rank, as numpy's `method="lower"` does, so tests
    can compare against an exact value.
    """
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = math.floor(q * (total - 1))
    seen = 0
    for index in sorted(k for k, v in counts.items() if v > 0):
        seen += counts[index]
        if seen > rank:
            return bucket_value(index)
    return None  # pragma: no cover - unreachable when total > 0


def subtract(total: Counter[int], part: Mapping[int, int]) -> None:
    """Remove `part` from `total`, dropping buckets that reach zero."""
    for index, count in part.items():
        left = total[index] - count
        if left > 0:
            total[index] = left
        else:
            del total[index]
