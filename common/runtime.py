"""Process start-up helpers shared by the agent, collector and CLI."""

from __future__ import annotations

import asyncio
import gc

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
