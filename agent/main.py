"""Wire the agent together: settings, state dir, probes, scheduler, one
spool and stream per collector, and its own small HTTP server (agent.web)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from agent import settings as settings_mod
from agent import web
from agent.metrics import AgentMetrics
from agent.overload import LagMonitor
from agent.probe_kit.http_client import new_session
from agent.probes import ProbeContext, icmp
from agent.runner import ProbeRunner
from agent.scheduler import Scheduler
from agent.spool import Spool
from agent.state import StateDir
from agent.stream import StreamClient
from common import logs, redaction
from common.config import CheckBase, ConfigError
from common.config.base import insecure
from common.errors import FatalError
from common.runtime import install_loop, settle_heap
from common.wire import check_from_proto
from vantage.v1 import vantage_pb2 as pb

log = structlog.get_logger("agent")

DRAIN = 3.0
"""Seconds a stopping agent waits for its spool to be acked."""
SHED_RECENT = 60.0
"""Seconds after the last shed run during which /readyz says the agent sheds."""


@dataclass
class Applied:
    """The config one collector gave this agent."""

    version: str
    source: str  # "collector", or "saved" when read back from the state dir
    checks: list[CheckBase] = field(default_factory=list)


class Agent:
    """One agent process."""

    def __init__(self, settings: settings_mod.Settings) -> None:
        self.settings = settings
        self.metrics = AgentMetrics()
        self.state = StateDir(settings.state_dir)
        self.state.lock()
        self.ctx = ProbeContext(
            settings.agent_id,
            settings.region,
            session_factory=new_session,
            nameserver=settings.dns_server,
        )
        self.lag = LagMonitor()
        self.streams = [self._stream(c) for c in settings.collectors]
        self.applied: dict[str, Applied] = {}
        self.owners: dict[str, StreamClient] = {}
        runner = ProbeRunner(self.ctx, self.collect, self.metrics, self.lag, self.shed)
        self.scheduler = Scheduler(
            runner, time.time, shed_after=settings.shed_after, on_shed=self.shed
        )
        # Said once at start, so an agent that cannot ping refuses icmp
        # checks with this reason instead of reporting them failed.
        self.icmp_unavailable = icmp.preflight()
        if self.icmp_unavailable:
            log.error("agent.icmp_unavailable", error=self.icmp_unavailable)
        self.settled = False  # start-up is over once a first config is applied
        self.last_shed = -SHED_RECENT
        self.dropped_seen = 0
        self.spool_failing = False

    def _stream(self, collector: str) -> StreamClient:
        s = self.settings
        spool = Spool(self.state.spool_dir(collector), s.spool_max_bytes, s.spool_max_age)
        return StreamClient(s, collector, spool, self.apply_config, self.metrics)

    def collect(self, result: pb.Result) -> None:
        """Spool a finished result for the collector that sent its check."""
        owner = self.owners.get(result.check)
        if owner is None:  # its check was removed while it ran
            return
        try:
            owner.spool.add(result)
        except OSError as exc:  # a full or read-only disk: probing goes on
            self.metrics.spool_errors.inc()
            if not self.spool_failing:
                log.error("spool.write_failed", error=str(exc), state_dir=str(self.state.root))
            self.spool_failing = True
            return
        if self.spool_failing:
            log.info("spool.write_recovered")
            self.spool_failing = False
        owner.notify()

    def shed(self, check: CheckBase, why: str) -> None:
        """Count a run the agent could not do in time (never a failure)."""
        self.metrics.skipped.labels(why).inc()
        owner = self.owners.get(check.name)
        if owner is not None:
            owner.runs_skipped += 1
        if time.monotonic() - self.last_shed > SHED_RECENT:
            log.warning("agent.shedding", check=check.name, why=why)
        self.last_shed = time.monotonic()

    @property
    def shedding(self) -> bool:
        """Whether a run was shed within the last `SHED_RECENT` seconds."""
        return time.monotonic() - self.last_shed < SHED_RECENT

    def apply_config(self, stream: StreamClient, config: pb.Config) -> None:
        """A collector sent its config: keep it, and schedule the union."""
        self.state.save_config(stream.collector, config)
        self._apply(stream, config, "collector")

    def _apply(self, stream: StreamClient, config: pb.Config, source: str) -> None:
        applied = self.applied[stream.collector] = Applied(config.version, source)
        for message in config.checks:
            try:
                check = check_from_proto(message)
            except ConfigError as exc:
                log.error("config.check_rejected", error=str(exc))
                continue
            if check.type == "icmp" and self.icmp_unavailable:
                log.error("config.check_rejected", check=check.name, error=self.icmp_unavailable)
                continue
            if check.probed and self.settings.region in check.regions:
                applied.checks.append(check)
                if insecure(check):
                    log.warning(
                        "config.insecure_check",
                        check=check.name,
                        warning="insecure_skip_verify is on: certificates are not verified",
                    )
        if not self.settled:  # the first config ends start-up
            self.settled = True
            # Start-up objects live as long as the agent: a full collection
            # walking them stalled the loop for ~100 ms. Once only: an object
            # frozen inside a reference cycle is never collected. Before any
            # probe is scheduled, so that no probe measures that stall.
            settle_heap()
        self._schedule()
        log.info(
            "config.applied",
            collector=stream.collector,
            version=config.version,
            source=source,
            checks=len(applied.checks),
        )
        if not applied.checks:
            log.warning("config.no_checks", collector=stream.collector, warning=self.idle_warning)

    def _schedule(self) -> None:
        """Run the union of every collector's checks; each result goes back
        to the collector that sent its check (the first one, if two did)."""
        union: dict[str, CheckBase] = {}
        self.owners = {}
        for stream in self.streams:
            for check in self.applied.get(stream.collector, Applied("", "")).checks:
                if check.name not in union:
                    union[check.name] = check
                    self.owners[check.name] = stream
        self.scheduler.apply(union.values())
        self.metrics.checks.set(len(union))
        self.metrics.config_version.clear()
        for collector, applied in self.applied.items():
            self.metrics.config_version.labels(collector, applied.version, applied.source).set(1)

    @property
    def idle_warning(self) -> str | None:
        """Why this agent probes nothing, when a config assigns it no check."""
        if not self.applied or any(a.checks for a in self.applied.values()):
            return None
        return (
            f"no checks are assigned to region {self.settings.region!r}: "
            "check --region against the regions in the collector's checks file"
        )

    def load_saved(self) -> None:
        """Probe on the configs saved by the last run until collectors answer."""
        for stream in self.streams:
            config = self.state.saved_config(stream.collector)
            if config is not None and stream.collector not in self.applied:
                self._apply(stream, config, "saved")

    async def maintain(self) -> None:
        """Every fsync interval: fsync the spools, enforce their bounds, and
        count what the bounds dropped."""
        while True:
            await asyncio.sleep(self.settings.fsync_interval)
            # fsync off the loop: it can take tens of milliseconds.
            await asyncio.to_thread(_run_all, [s.spool.sync_work() for s in self.streams])
            self.tend_spools()

    def tend_spools(self) -> None:
        """Enforce every spool's bounds and count what they dropped."""
        for stream in self.streams:
            stream.spool.enforce()
        dropped = sum(s.spool.dropped for s in self.streams)
        if dropped > self.dropped_seen:
            self.metrics.dropped.inc(dropped - self.dropped_seen)
            self.dropped_seen = dropped

    def update_gauges(self) -> None:
        """Spool gauges, read at scrape time."""
        now = time.time()
        for stream in self.streams:
            spool, c = stream.spool, stream.collector
            self.metrics.spooled.labels(c).set(len(spool))
            self.metrics.spool_bytes.labels(c).set(spool.size_bytes)
            self.metrics.spool_oldest.labels(c).set(spool.oldest_age(now))

    async def drain(self) -> None:
        """At a stop: give connected streams up to `DRAIN` seconds to send
        what is spooled (what is left stays in the spool for the next run)."""
        deadline = time.monotonic() + DRAIN
        while time.monotonic() < deadline and any(
            s.connected and len(s.spool) for s in self.streams
        ):
            for stream in self.streams:
                stream.wakeup.set()
            await asyncio.sleep(0.05)

    async def run(self) -> int:
        """Run until SIGINT/SIGTERM (0) or a fatal stream error (2)."""
        try:
            server, listener = await web.start(self)
        except OSError as exc:
            print(
                f"vantage-agent: --http-listen {self.settings.http_listen}: {exc.strerror}",
                file=sys.stderr,
            )
            return 2
        self.lag.start()
        self.load_saved()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        streams = {asyncio.create_task(s.run_forever()) for s in self.streams}
        tasks = {*streams, asyncio.create_task(stop.wait()), asyncio.create_task(self.maintain())}
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        code = max((_exit_code(t) for t in done & streams), default=0)
        self.scheduler.stop()
        if not done & streams:
            await self.drain()
        for task in tasks:
            task.cancel()
        self.lag.stop()
        for stream in self.streams:
            stream.spool.close()
        await self.ctx.close()
        await web.stop(server, listener)
        log.info("agent.stopped", code=code)
        return code


def _run_all(work: list[Callable[[], None]]) -> None:
    for do in work:
        do()


def _exit_code(stream: asyncio.Task[Any]) -> int:
    if stream.cancelled():
        return 0
    error = stream.exception()
    if isinstance(error, FatalError):
        log.error("stream.fatal", error=str(error))
        print(f"vantage-agent: {error}", file=sys.stderr)
        return 2
    if error is not None:
        log.error("stream.crashed", error=repr(error))
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vantage-agent`."""
    settings = settings_mod.load(argv)
    logs.setup("agent", settings.log_level)
    redaction.redact(settings.token)
    structlog.contextvars.bind_contextvars(agent=settings.agent_id, region=settings.region)
    install_loop()
    try:
        agent = Agent(settings)
    except (ValueError, OSError) as exc:
        print(f"vantage-agent: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(agent.run())
