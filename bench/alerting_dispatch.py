"""One dispatcher pass in a wide outage: 100, 1,000 and 5,000 alerts firing.

The pattern is a wide outage as the evaluator produces it: every check down
(`CheckDown`, critical) and every fifth one also slow (`LatencyHigh`, which
the default rule inhibits while its `CheckDown` fires), grouped by check as
in the example config. One *pass* is what the collector's loop does each
time it wakes: `flush(now)` then `next_deadline(now)`. The first pass sends
everything; the figure is the median of later passes, when nothing is due
and every group must still be looked at (a pass that grows with the square
of the firing alerts is what kept SIGTERM waiting for 13 s).

The baseline, measured in the same run, is the same dispatcher asking the
old way whether an alert is muted: a scan of every firing alert per alert.

Then the same outage through a real collector process: 5,000 checks in 3
regions, each (check, region) sending two failing results over gRPC at once
(three agent streams, batches of 100), every check routed to a webhook
recorder grouped by check. Figures: the time from the last failing batch
acked to the 5,000th page, and the time the collector takes to exit on
SIGTERM right then (target 5 s).

    python -m bench.alerting_dispatch
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from agent.spool import encode_batch
from bench._common import TOKEN, bench_procs, main_for, start_collector, wait_until
from bench._figures import Row, median
from bench._ingest_sender import Fleet, instance
from collector.alerting.config import AlertingConfig, parse_alerting
from collector.alerting.dispatcher import Dispatcher
from collector.alerting.model import Alert, AlertState
from tests.support.recorder import Recorder, recorder

NAME = "alerting_dispatch"
SIZES = (100, 1000, 5000)
TARGET = 0.050
"""Seconds per pass with 5,000 alerts firing (issue 12)."""
PASSES = 5
PAIRWISE_MAX = 1000
"""The pairwise baseline is quadratic: measured up to here only, so the
benchmark stays bounded in time (at 5,000 it would take minutes)."""


class PairwiseDispatcher(Dispatcher):
    """The old way: every firing alert checked against every rule, per alert."""

    def muted(self, alert: Alert, now: float) -> bool:
        """A scan of every firing alert (the pre-index behaviour)."""
        labels = alert.labels
        return self.silences.is_silenced(labels, now) or any(
            rule.inhibits(source.labels, labels)
            for rule in self._inhibit.rules
            for source in self._firing.values()
            if source.labels != labels
        )


def _alerts(firing: int) -> list[Alert]:
    checks = firing * 5 // 6  # every fifth check is also slow: 5 + 1 alerts per 5 checks
    out = []
    for i in range(checks):
        labels: Mapping[str, str] = {"check": f"c{i}", "check_type": "http", "host": f"h{i}"}
        out.append(_alert({**labels, "alertname": "CheckDown", "severity": "critical"}))
        if i % 5 == 0:
            out.append(_alert({**labels, "alertname": "LatencyHigh", "severity": "warning"}))
    return out[:firing]


def _alert(labels: Mapping[str, str]) -> Alert:
    return Alert(labels, {"summary": labels["check"]}, AlertState.FIRING, 1000.0)


def _config() -> AlertingConfig:
    hook = {"name": "pager", "type": "webhook", "url": "http://127.0.0.1:9/"}
    route = {"receivers": ["pager"], "group_by": ["check"], "group_interval": "1m"}
    return parse_alerting({"route": route, "receivers": [hook]})


def _pass_seconds(kind: type[Dispatcher], firing: int, passes: int = PASSES) -> float:
    dispatcher = kind(_config())
    for alert in _alerts(firing):
        dispatcher.push(alert, 1000.0)
    dispatcher.flush(1000.0)  # the pages go out
    times = []
    for i in range(passes):
        now = 1001.0 + i
        started = time.process_time()
        dispatcher.flush(now)
        dispatcher.next_deadline(now)
        times.append(time.process_time() - started)
    return median(times)


WIDE = 5000
REGIONS = ("eu-west", "us-east", "ap-south")
SIGTERM_TARGET = 5.0


def _wide_config(path: Path, hook: str) -> Path:
    checks = "".join(
        f"  - {{name: {n}, type: http, url: 'http://127.0.0.1:9/{n}'}}\n" for n in _wide_names()
    )
    path.write_text(
        f"defaults: {{regions: [{', '.join(REGIONS)}], labels: {{severity: critical}}}}\n"
        "alerting:\n"
        "  route: {receivers: [pager], group_by: [check], group_wait: 0s}\n"
        f"  receivers: [{{name: pager, type: webhook, url: '{hook}'}}]\n"
        "checks:\n" + checks
    )
    return path


def _wide_names() -> list[str]:
    return Fleet("", "", WIDE, []).names


async def _send_failures(grpc_port: int) -> None:
    """Two failing results per (check, region), on one stream per region."""
    fleet = Fleet(f"127.0.0.1:{grpc_port}", TOKEN, WIDE, list(REGIONS))
    await fleet.prepare({}, "wide")
    readers = [asyncio.create_task(s.read_acks()) for s in fleet.streams.values()]
    now = time.time()
    for region, stream in fleet.streams.items():
        results = [
            instance(t, now - 2 + k, 0.05, i * 2 + k)
            for i, t in enumerate(fleet.failed[region])
            for k in (0, 1)
        ]
        for start in range(0, len(results), 100):
            await stream.send(encode_batch(stream.sent + 1, results[start : start + 100]))
    for stream in fleet.streams.values():
        await stream.close()
    for reader in readers:
        reader.cancel()


def _paged_checks(rec: Recorder) -> int:
    with rec.lock:
        bodies = [b for _, b in rec.posts if isinstance(b, dict) and b.get("status") == "firing"]
    return len({a["labels"].get("check") for b in bodies for a in b.get("alerts", [])})


def wide_outage() -> list[Row]:
    """5,000 checks failing at once through a real collector: pages, SIGTERM."""
    with bench_procs(NAME) as procs, recorder() as rec:
        config = _wide_config(procs.tmp / "checks.yaml", rec.url + "/pager")
        proc, grpc_port, _ = start_collector(procs, config, timeout=120)
        asyncio.run(_send_failures(grpc_port))
        sent = time.monotonic()
        wait_until(lambda: _paged_checks(rec) >= WIDE, 300, f"{WIDE:,} pages")
        paged = time.monotonic() - sent
        stopping = time.monotonic()
        proc.stop(signal.SIGTERM, timeout=60)
        stopped = time.monotonic() - stopping
    print(f"  wide outage: {WIDE:,} checks paged {paged:.1f}s after the last failing batch")
    print(f"  SIGTERM during it: exited in {stopped:.2f}s")
    return [
        Row(NAME, f"wide outage: {WIDE:,} checks down at once", f"all paged in {paged:.1f}s"),
        Row(
            NAME,
            "SIGTERM during the wide outage",
            f"exit in {stopped:.2f}s",
            target=f"<= {SIGTERM_TARGET:.0f} s",
            ok=stopped <= SIGTERM_TARGET,
        ),
    ]


def run() -> list[Row]:
    """A row per size: CPU seconds per pass, indexed vs pairwise; then the
    wide outage through a real collector."""
    print(f"== {NAME}: one dispatcher pass (flush + next_deadline), CPU seconds")
    rows = []
    for firing in SIZES:
        ours = _pass_seconds(Dispatcher, firing)
        old = _pass_seconds(PairwiseDispatcher, firing, 1) if firing <= PAIRWISE_MAX else None
        baseline = f"pairwise {old * 1000:,.1f} ms" if old is not None else "pairwise: not run"
        print(f"  {firing:>5} firing: indexed {ours * 1000:.2f} ms  {baseline}")
        rows.append(
            Row(
                NAME,
                f"{firing:,} alerts firing",
                f"{ours * 1000:.2f} ms/pass",
                baseline,
                None if old is None else old / ours,
                "<= 50 ms" if firing == max(SIZES) else "",
                ours <= TARGET if firing == max(SIZES) else None,
            )
        )
    return rows + wide_outage()


def main() -> None:
    """`python -m bench.alerting_dispatch`."""
    main_for(NAME, run)


if __name__ == "__main__":
    main()
