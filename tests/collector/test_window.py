"""Windows and p95 against exact percentiles on random data."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from collector.stats import sketch
from collector.stats.window import Window


def exact_p95(values: list[float]) -> float:
    """Lower nearest-rank p95, the definition the sketch implements."""
    ordered = sorted(values)
    return ordered[math.floor(0.95 * (len(ordered) - 1))]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "dist",
    [
        pytest.param(lambda r: r.lognormvariate(-3, 1), id="lognormal"),
        pytest.param(lambda r: r.uniform(0.001, 2.0), id="uniform"),
        pytest.param(lambda r: r.expovariate(20), id="exponential"),
    ],
)
def test_sketch_p95_within_one_percent_of_exact(seed: int, dist) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    values = [dist(rng) for _ in range(rng.randint(50, 5000))]
    counts = Counter(sketch.bucket(v) for v in values)
    got = sketch.quantile(counts, 0.95)
    want = exact_p95(values)
    assert got is not None
    assert abs(got - want) <= sketch.ACCURACY * want


def test_window_matches_exact_over_its_span_and_forgets_older_samples() -> None:
    rng = random.Random(42)
    window = Window(span=300, slot=10)
    samples = []  # (time, latency, ok)
    for second in range(0, 900, 3):
        latency, ok = rng.lognormvariate(-2, 0.7), rng.random() > 0.1
        samples.append((float(second), latency, ok))
        window.add(
            second,
            second,
            Counter({sketch.bucket(latency): 1}) if ok else Counter(),
            int(ok),
            int(not ok),
        )
    now = 899.0
    # Slots are 10 s wide: the window holds the slots that started after now - span.
    start = (math.floor(now / 10) - 30 + 1) * 10
    inside = [s for s in samples if s[0] >= start]
    ok_latencies = [lat for _, lat, ok in inside if ok]
    assert window.samples(now) == len(inside)
    assert window.error_ratio(now) == pytest.approx(sum(not ok for *_, ok in inside) / len(inside))
    p95 = window.p95(now)
    assert p95 is not None
    assert abs(p95 - exact_p95(ok_latencies)) <= sketch.ACCURACY * exact_p95(ok_latencies)


def test_window_empties_after_its_span() -> None:
    window = Window(span=300, slot=10)
    window.add(100, 100, Counter({sketch.bucket(0.2): 1}), 1, 0)
    window.add(101, 101, Counter(), 0, 1)
    assert window.error_ratio(150) == 0.5
    assert window.p95(1000) is None
    assert window.error_ratio(1000) is None
    assert window.latency == Counter()


def test_window_ignores_results_older_than_its_span() -> None:
    window = Window(span=300, slot=10)
    window.add(10, 1000, Counter({sketch.bucket(0.2): 1}), 1, 0)
    assert window.samples(1000) == 0


def test_failures_count_in_ratio_but_not_in_p95() -> None:
    window = Window(span=300, slot=10)
    window.add(5, 5, Counter({sketch.bucket(0.1): 1}), 1, 0)
    window.add(6, 6, Counter(), 0, 3)
    assert window.error_ratio(10) == 0.75
    assert window.p95(10) == pytest.approx(0.1, rel=sketch.ACCURACY)


def test_empty_sketch_has_no_quantile() -> None:
    assert sketch.quantile({}, 0.95) is None
