"""Process start-up helpers shared by the agent, collector and CLI."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator

GC_YOUNG_THRESHOLD = 20_000
"""Allocations between young-generation collections (CPython's default is
700). A long-running service allocates many short-lived objects per request;
reference counting frees them, and the cycle collector only needs to run
now and then."""


def install_loop() -> None:
    """Use uvloop where it is available (it is a dependency on Linux)."""
    try:
        import uvloop  # noqa: PLC0415  # optional on other platforms
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def settle_heap() -> None:
    """Call once start-up is done (imports, config): the objects alive now
    live as long as the process, so the cycle collector stops scanning them
    (`gc.freeze`), and young collections run less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cycle collection while building many long-lived objects (a config
    of 50,000 checks): each collection would scan everything built so far,
    which made loading such a config take twice as long."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze_survivors() -> None:
    """After every full collection, move the survivors to the permanent
    generation (`gc.freeze`), so the next full collection scans only what
    was allocated since, not every series a collector of 50,000 checks
    holds (a full scan of those paused the event loop for a second).

    Frozen objects are still freed by reference counting; only garbage
    *cycles* among them would stay, and the collector's long-lived data
    (series, windows, results) holds none."""

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(callback)


YOUNG_EVERY = 1.0
"""Seconds between the collector's paced young collections."""


async def collect_young(every: float = YOUNG_EVERY) -> None:
    """Collect the two young generations every `every` seconds, until
    cancelled.

    CPython starts a young collection when allocations outnumber
    deallocations by the threshold. A collector in steady state replaces
    each series' last result: every new object is matched by an older one
    freed, so the count stays near zero while the young generation grows
    without bound (300,000 objects after 1,000,000 results into 150,000
    series, `tests/common/test_runtime.py`), and when a collection finally
    runs it scans all of them: at 50,000 checks that paused the event loop
    for ~200 ms at a time. On a clock each pass scans one second of
    survivors: a few ms at 2,500 results/s."""
    while True:
        await asyncio.sleep(every)
        gc.collect(1)
