"""`python -m bench.scale`: every target of issue 12 with its figure and a
baseline from the same run, area by area.

    python -m bench.scale               # every area
    python -m bench.scale collector     # only those named

Each area is a module with `run() -> list[Row]` listed in `AREAS`; adding
one is one line. The collector area takes 10-15 minutes at 50,000 checks
(see bench/scale_collector.py for a smaller run).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bench import scale_agent, scale_collector
from bench._common import BenchError
from bench._figures import Row, print_table

AREAS: dict[str, Callable[[], list[Row]]] = {
    "agent": scale_agent.run,
    "collector": scale_collector.run,
}


def main(argv: Sequence[str]) -> int:
    """Run the named areas (default: all) and print one table."""
    unknown = [name for name in argv if name not in AREAS]
    if unknown:
        print(f"unknown area {', '.join(unknown)}; choose from {', '.join(AREAS)}")
        return 2
    started, broken, rows = time.monotonic(), 0, []
    for name in argv or list(AREAS):
        try:
            rows += AREAS[name]()
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            broken += 1
            print(f"  {name} failed: {exc}")
            rows.append(Row(name, "-", f"FAILED: {str(exc).splitlines()[0][:90]}"))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\nIssue 12 targets, {when}, production traffic pattern (2 cores)")
    print_table(rows)
    print(f"total {time.monotonic() - started:.0f}s")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
