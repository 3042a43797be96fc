"""The collector-side fault tests' rig: a real collector and one agent per
region on loopback, probing a CountingTarget (which records every probe's
X-Request-ID), with every page going to a webhook sink.

A result is counted three times: when the target serves the probe (its
request id), when the agent reports it (its `probe.completed` line), and
when the collector ingests it (the collector's debug log lists the request
ids of every batch it accepts, `ingest.accepted`); pages are counted when
the webhook sink receives them. So each test can state, from real traffic:
- lost: results an agent reported that never reached the collector (runs an
  overloaded agent shed are counted by the agent and bounded separately);
- duplicates: results the collector ingested more than once;
- false pages: notifications while the target was healthy;
- missed pages: an outage with no page.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.support import CountingTarget
from tests.support.net import http_get, wait_for
from tests.support.procs import Proc, Procs
from tests.support.recorder import Recorder

REGIONS = ("eu-west", "us-east")
TOKEN = "fake-fault-suite-token"


def config_text(target: CountingTarget, sink: Recorder, extra: str = "") -> str:
    """One check of `target` from every region, every page to `sink`."""
    return f"""\
defaults: {{interval: 1s, timeout: 500ms, retry_after: 500ms, stale_grace: 10s,
           regions: [{", ".join(REGIONS)}]}}
alerting:
  route:
    receivers: [pages]
    group_by: [alertname, check]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - {{name: pages, type: webhook, url: "{sink.url}/pages"}}
checks:
  - name: home
    type: http
    url: {target.url}/
    labels: {{severity: critical}}
{extra}"""


@dataclass
class Rig:
    """A collector and one agent per region, and what they did."""

    procs: Procs
    config: Path
    target: CountingTarget
    sink: Recorder
    collectors: list[Proc] = field(default_factory=list)
    agents: dict[str, Proc] = field(default_factory=dict)
    grpc_port: int = 0
    http_port: int = 0

    def start_collector(self, name: str = "collector", **kw: Any) -> Proc:
        """(Re)start the collector on the same ports and state dir."""
        env = {"VANTAGE_LOG_LEVEL": "debug", **kw.pop("env", {})}
        proc, self.grpc_port, self.http_port = self.procs.collector(
            self.config,
            tokens=TOKEN,
            name=name,
            grpc_port=self.grpc_port or None,
            http_port=self.http_port or None,
            env=env,
            **kw,
        )
        self.collectors.append(proc)
        return proc

    def start_agents(self) -> None:
        """One agent per region, each with its own state dir."""
        for region in REGIONS:
            self.agents[region] = self.procs.agent(self.grpc_port, region, token=TOKEN)[0]

    def url(self, path: str) -> str:
        """A URL on the collector's HTTP port."""
        return f"http://127.0.0.1:{self.http_port}{path}"

    def ingested(self) -> Counter[str]:
        """How many times the collectors ingested each request id."""
        seen: Counter[str] = Counter()
        for proc in self.collectors:
            for line in proc.output().splitlines():
                if '"ingest.accepted"' in line:
                    seen.update(i for i in json.loads(line)["request_ids"] if i)
        return seen

    def reported(self) -> set[str]:
        """Request ids of the results the agents reported (their canonical
        `probe.completed` line). A run the agent shed because its own loop
        stalled (counted in vantage_agent_runs_skipped_total) is served by
        the target but never reported: not a result, so not lost."""
        ids: set[str] = set()
        for proc in self.agents.values():
            for line in proc.output().splitlines():
                if '"probe.completed"' in line:
                    ids.add(json.loads(line)["request_id"] or "")
        ids.discard("")
        return ids

    def lost(self, reported: set[str], timeout: float = 20.0) -> set[str]:
        """Of the results in `reported`, those that have not reached a
        collector within `timeout` (polled: delivery after a fault takes the
        agent's reconnect backoff)."""
        missing: set[str] = set(reported)

        def delivered() -> bool:
            missing.intersection_update(reported - set(self.ingested()))
            return not missing

        with contextlib.suppress(AssertionError):  # the caller asserts on what is missing
            wait_for(delivered, timeout, "every served probe ingested", every=0.3)
        return missing

    def duplicates(self) -> dict[str, int]:
        """Request ids ingested more than once."""
        return {i: n for i, n in self.ingested().items() if n > 1}

    def pages(self) -> list[tuple[str, str]]:
        """(status, alertname) of every notification at the sink."""
        return [
            (b["status"], a["labels"]["alertname"])
            for b in self.sink.bodies("/pages")
            for a in b["alerts"]
        ]

    def recover_and_resolve(self) -> None:
        """Make the target healthy again and wait for the one resolve."""
        self.target.failing = False
        wait_for(lambda: ("resolved", "CheckDown") in self.pages(), 20, "the resolve")

    def assert_counts(self, pages: list[tuple[str, str]]) -> None:
        """Lost 0, duplicates 0, and exactly `pages` (no false, no missed page)."""
        wait_for(lambda: len(self.reported()) >= 10, 20, "enough traffic to count")
        served, reported = self.target.served(), self.reported()
        shed = served - reported
        assert len(shed) <= len(served) // 4, f"agents shed {len(shed)} of {len(served)} runs"
        assert self.lost(reported) == set()
        assert self.duplicates() == {}
        assert self.pages() == pages

    def reporting(self) -> bool:
        """Whether every region's agent has reported `home` to the collector."""
        status, body = http_get(self.url("/api/v1/checks/home"))
        return status == 200 and all(json.loads(body)["regions"][r]["last"] for r in REGIONS)


def metric(rig: Rig, name: str) -> float:
    """The value of a series (`name{labels}` as exposed) on the collector's /metrics, 0 if absent."""
    _, body = http_get(rig.url("/metrics"))
    values = [float(line.split()[-1]) for line in body.splitlines() if line.split(" ")[0] == name]
    return values[0] if values else 0.0
