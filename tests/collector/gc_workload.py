"""A collector's steady work, in one process, for `test_gc_policy`:

    python -m tests.collector.gc_workload TMP_DIR

A real `Collector` (config loaded in its child process, state in SQLite)
takes results from 3 regions for 40 checks, one per check and region a
minute in batches of 8, 2% failing at random and one check failing in
every region for three minutes (so `CheckDown` fires and resolves); the
evaluator ticks every 10 s, alerts go through the dispatcher, state is
saved, `/metrics` is rendered, and the config is reloaded with a change.

After a warm-up round, that work runs with the cycle collector off and
`gc.freeze` disabled; then one collection counts what only it could free.
Prints `{"found": N, "types": [[type, count], ...], "alerts": {"NAME:state":
count}, "renders": N}`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

from collector.main import Collector, parse_args
from collector.model import Sample
from common.reasons import FailureReason

CHECKS = 40
REGIONS = ("eu-west", "us-east", "ap-south")
START = 1_800_000_000.0
DOWN = range(3, 6)
"""Minutes in which `check-0` fails in every region."""


def write_config(path: Path, timeout: str) -> None:
    """40 http checks on loopback, every region."""
    lines = [
        f"defaults: {{interval: 60s, timeout: {timeout}, regions: [{', '.join(REGIONS)}]}}",
        "checks:",
        *(
            f"  - {{name: check-{i}, type: http, url: 'http://127.0.0.1:9/'}}"
            for i in range(CHECKS)
        ),
    ]
    path.write_text("\n".join(lines) + "\n")


def minute(
    collector: Collector, loop: asyncio.AbstractEventLoop, m: int, rng: random.Random
) -> None:
    """One minute of results, ticks, dispatch, saves and a render."""
    results = []
    for i in range(CHECKS):
        for r, region in enumerate(REGIONS):
            at = START + m * 60 + i + r * 0.3
            ok = not (i == 0 and m in DOWN) and rng.random() >= 0.02
            reason = FailureReason.NONE if ok else FailureReason.TIMEOUT
            results.append(
                Sample(
                    check=f"check-{i}",
                    region=region,
                    agent_id=f"a-{region}",
                    at=at,
                    duration=0.1,
                    success=ok,
                    reason=reason,
                    check_type="http",
                    request_id=f"{m:08x}{i:08x}",
                    release="web-1",
                )
            )
    service = collector.alerting
    for start in range(0, len(results), 8):
        batch = results[start : start + 8]
        now = batch[-1].at + 0.5
        collector.on_samples(batch, now)
        if start % 24 == 0:
            for part in service.evaluator.tick_steps(now, len(REGIONS)):
                service._push(part, now)  # the service's own tick, without its sleep
            service._dispatcher().flush(now)
    service.save(force=True)
    loop.run_until_complete(_render(collector))


async def _render(collector: Collector) -> int:
    size = 0
    async for part in collector.metrics.series.render():
        size += len(part)
    return size


def reload(collector: Collector, loop: asyncio.AbstractEventLoop, timeout: str) -> None:
    """Change the file and reload it, as SIGHUP does, until applied."""
    write_config(collector.settings.config, timeout)
    assert loop.run_until_complete(collector.source.reload_async("test"))
    loop.run_until_complete(asyncio.gather(*collector._tasks))


def main() -> None:
    tmp = Path(sys.argv[1])
    config = tmp / "checks.yaml"
    write_config(config, "5s")
    os.environ["VANTAGE_AGENT_TOKENS"] = "gc-workload-token-0123456789"  # pragma: allowlist secret
    argv = ["--config", str(config), "--state-dir", str(tmp / "state"),
            "--grpc-listen", "127.0.0.1:9", "--http-listen", "127.0.0.1:9"]  # fmt: skip
    collector = Collector(parse_args(argv))
    loop = asyncio.new_event_loop()
    rng = random.Random(7)
    minute(collector, loop, 0, rng)  # warm-up: first-time caches and imports
    reload(collector, loop, "6s")
    gc.freeze = lambda: None  # frozen cycles are the ones that would leak: see them all
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    for m in range(1, 9):
        minute(collector, loop, m, rng)
        if m == 6:
            reload(collector, loop, "7s")
    found = gc.collect()
    types = Counter(type(o).__name__ for o in gc.garbage).most_common(8)
    alerts = {
        f"{m.labels['alertname']}:{m.labels['state']}": m.value
        for metric in collector.metrics.alerts.collect()
        for m in metric.samples
        if m.name.endswith("_total")
    }
    renders = collector.metrics.series.renders
    print(json.dumps({"found": found, "types": types, "alerts": alerts, "renders": renders}))


if __name__ == "__main__":
    main()
