"""`make bench`: every benchmark in sequence, then one summary table.

    python -m bench                 # all of them (about 4 minutes on 2 cores)
    python -m bench tls_dns ...     # only those named

A benchmark whose binaries are missing prints `skipped: install X` and the
rest go on; one that breaks is reported in the table and the exit status
is 1. A missed target is a figure, not a failure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from bench import (
    agent_http,
    agent_memory,
    agent_spool,
    alerting_dispatch,
    collector_ingest,
    detection,
    tls_dns,
)
from bench._common import BenchError
from bench._figures import REPS, Row, print_table
from bench.agent_memory import AGENTS

BENCHMARKS: dict[str, Callable[[], list[Row]]] = {
    agent_http.NAME: agent_http.run,
    collector_ingest.NAME: collector_ingest.run,
    agent_memory.NAME: agent_memory.run,
    agent_spool.NAME: agent_spool.run,
    tls_dns.NAME: tls_dns.run,
    detection.NAME: detection.run,
    alerting_dispatch.NAME: alerting_dispatch.run,
}


def main(argv: Sequence[str]) -> int:
    """Run the named benchmarks (default: all) and print the summary."""
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    started, broken = time.monotonic(), 0
    rows: list[Row] = []
    for name in argv or list(BENCHMARKS):
        bench_started = time.monotonic()
        try:
            rows += BENCHMARKS[name]()
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            broken += 1
            print(f"  {name} failed: {exc}")
            rows.append(Row(name, "-", f"FAILED: {str(exc).splitlines()[0][:90]}"))
        print(f"  ({name} took {time.monotonic() - bench_started:.0f}s)\n")
    print(f"Summary (medians of {REPS} runs, {AGENTS} agents for memory; ratio = ours / baseline")
    print("measured in the same run)")
    print_table(rows)
    print(f"total {time.monotonic() - started:.0f}s")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
