"""Process start-up helpers shared by the agent, collector and CLI."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import Callable, Iterator
from typing import TypeVar

_T = TypeVar("_T")

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


def settle_heap(middle: int | None = None) -> None:
    """Call once start-up is done (imports, config): the objects alive now
    live as long as the process, so the cycle collector stops scanning them
    (`gc.freeze`), and young collections run less often. `middle`: young
    collections between two of the middle generation (CPython's is 10)."""
    gc.collect()
    gc.freeze()
    _, default_middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle or default_middle, old)


SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the GIL while another waits for it (CPython's
default is 0.005)."""


def favour_the_loop(interval: float = SWITCH_INTERVAL) -> None:
    """Hand the GIL back to a waiting thread sooner: the event loop's.

    The collector builds large things in worker threads so they do not hold
    the event loop: a reload's targets and policies, the agents' config
    message, a region's set of checks (each 0.2-1 s of Python at 50,000
    checks). But the loop releases the GIL at every system call (each read,
    write and poll), and a worker running Python then keeps it for the
    whole switch interval before the loop may go on: a request that needs a
    few dozen system calls waited 5 ms at each. With a worker busy, /healthz
    took up to 250-340 ms in a flood and in a reload at 50,000 checks; with
    1 ms, 84 ms and 182 ms in the same runs (docs/performance.md). The
    worker's own work is not slowed measurably: a hand-over costs
    microseconds."""
    sys.setswitchinterval(interval)


COLLECTOR_MIDDLE = 2
"""The collector's middle threshold: in an ingest flood a young collection
(20,000 net allocations) runs several times a second, and with CPython's 10
the middle generation gathered ten of them, ~200,000 objects, scanned in
one 230 ms pause (seen with a loop watchdog at 50,000 checks)."""


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


def build_to_last(build: Callable[[], _T]) -> _T:
    """`build()` the objects of a new config (or the policies made from it),
    which live until the next reload, with no cycle collection meanwhile,
    then move them to the permanent generation without scanning them
    (`gc.freeze` only links lists).

    A reload of 50,000 checks makes about a million objects; collected as
    they arrived, they reached the old generation by young collections of
    ~100 ms each and then one full collection scanned them all, holding the
    event loop (and `/healthz`) for a second or more. Next to nothing is
    lost by not scanning them: the collector makes almost no garbage cycles
    once started (see `freeze_survivors`), and frozen objects are still
    freed by reference counting when the next reload replaces them."""
    with gc_paused():
        built = build()
        gc.freeze()
    return built


def freeze_survivors() -> None:
    """After every full collection, move the survivors to the permanent
    generation (`gc.freeze`), so the next full collection scans only what
    was allocated since, not every series a collector of 50,000 checks
    holds (a full scan of those paused the event loop for a second).

    Frozen objects are still freed by reference counting; only garbage
    *cycles* among them would stay, and the collector makes almost none
    once it runs: in watchdog runs at 50,000 checks (up to an hour of data,
    a scrape, a reload), the cycle collector found 18 objects after
    start-up in all, against ~2,000 during it. Its own work
    makes none: `tests/collector/test_gc_policy.py` keeps it so."""

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(callback)


YOUNG_EVERY = 0.25
"""Seconds between the collector's paced young collections. 0.1 s was
tried: in interleaved runs at 20,000 checks it cost ~0.015 cores more at
1,000 results/s (0.27-0.28 against 0.26-0.27), and a flood's time line
still showed passes of up to 50 ms."""

OLD_MOST = 20_000
"""Objects the old generation may gather (survivors of young collections
since the last full one) before a paced full collection scans them: about
10 ms of the event loop (50,000 held it 20-30 ms about every second in an
ingest flood, where every series' last result outlives the young passes).
Unpaced, CPython waits until they are a quarter of what the last full
collection kept, which after a flood of new series was 1.4 million objects
and a 1.7 s pause."""


async def collect_young(every: float = YOUNG_EVERY, old_most: int = OLD_MOST) -> None:
    """Collect the two young generations every `every` seconds, and the old
    one once it holds more than `old_most` objects, until cancelled; never
    while a long-lived build has collection paused (`build_to_last`).

    CPython starts a young collection when allocations outnumber
    deallocations by the threshold. A collector in steady state replaces
    each series' last result: every new object is matched by an older one
    freed, so the count stays near zero while the young generation grows
    without bound (300,000 objects after 1,000,000 results into 150,000
    series, `tests/common/test_runtime.py`), and when a collection finally
    runs it scans all of them: at 50,000 checks that paused the event loop
    for ~200 ms at a time. On a clock each pass scans a quarter of a second
    of survivors: ~1 ms at 2,500 results/s, ~25 ms in an ingest flood. The
    old generation is bounded the same way; its survivors are then frozen
    (`freeze_survivors`), so no pass scans them again."""
    while True:
        await asyncio.sleep(every)
        if not gc.isenabled():
            continue
        gc.collect(1)
        if len(gc.get_objects(2)) > old_most:
            gc.collect(2)
