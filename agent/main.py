"""Wire the agent together: settings, probes, scheduler, spool, stream and
its own small HTTP server for /metrics and /healthz."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Sequence

import structlog
from aiohttp.web_exceptions import HTTPMethodNotAllowed, HTTPNotFound
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import Response, StreamResponse, json_response
from aiohttp.web_server import Server

from agent import memory
from agent import settings as settings_mod
from agent.metrics import AgentMetrics
from agent.probe_kit.http_client import new_session
from agent.probes import ProbeContext
from agent.runner import ProbeRunner
from agent.scheduler import Scheduler
from agent.spool import Spool
from agent.stream import StreamClient
from common import logs, redaction
from common.addresses import listen_address
from common.config import ConfigError
from common.config.base import insecure
from common.errors import FatalError
from common.exposition import CONTENT_TYPE
from common.runtime import install_loop, settle_heap
from common.wire import check_from_proto
from vantage.v1 import vantage_pb2 as pb

log = structlog.get_logger("agent")

_METHODS = ("GET", "HEAD")
_SHUTDOWN_TIMEOUT = 60.0
"""Seconds open requests get to finish at exit (web.AppRunner's default)."""


class Agent:
    """One agent process."""

    def __init__(self, settings: settings_mod.Settings) -> None:
        self.settings = settings
        self.metrics = AgentMetrics()
        self.spool = Spool(settings.spool_limit)
        self.ctx = ProbeContext(settings.agent_id, settings.region, session_factory=new_session)
        self.stream = StreamClient(settings, self.spool, self.apply_config, self.metrics)
        self.scheduler = Scheduler(ProbeRunner(self.ctx, self.collect, self.metrics), time.time)
        self.settled = False  # start-up is over once a first config is applied

    def collect(self, result: pb.Result) -> None:
        """Spool a finished result."""
        before = self.spool.dropped
        self.spool.add(result)
        if self.spool.dropped > before:
            self.metrics.dropped.inc(self.spool.dropped - before)
        self.stream.notify()

    def apply_config(self, config: pb.Config) -> None:
        """Schedule the checks for this region; skip any that do not validate."""
        checks = []
        for message in config.checks:
            try:
                check = check_from_proto(message)
            except ConfigError as exc:
                log.error("config.check_rejected", error=str(exc))
                continue
            if check.probed and self.settings.region in check.regions:
                checks.append(check)
                if insecure(check):
                    log.warning(
                        "config.insecure_check",
                        check=check.name,
                        warning="insecure_skip_verify is on: certificates are not verified",
                    )
        self.scheduler.apply(checks)
        self.metrics.checks.set(len(checks))
        self.metrics.config_version.clear()
        self.metrics.config_version.labels(config.version).set(1)
        log.info("config.applied", version=config.version, checks=len(checks))
        if not self.settled:  # the first config ends start-up
            self.settled = True
            # Start-up objects live as long as the agent: a full collection
            # walking them stalled the loop for ~100 ms (and mapped back the
            # traversal code of every extension module). Once only: an object
            # frozen inside a reference cycle is never collected.
            settle_heap()
        # Hand back the code pages that start-up, or building the schemas of
        # this config's check types, touched once.
        memory.release_unused_pages()

    async def health(self, _request: BaseRequest) -> Response:
        """/healthz: alive, and whether the collector stream is up."""
        body = {
            "status": "ok",
            "agent": self.settings.agent_id,
            "region": self.settings.region,
            "collector_connected": self.stream.connected,
            "checks": len(self.scheduler.entries),
            "spooled_results": len(self.spool),
        }
        return json_response(body)

    async def metrics_page(self, _request: BaseRequest) -> Response:
        """/metrics in the Prometheus text format."""
        self.metrics.spooled.set(len(self.spool))
        return Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def run(self) -> int:
        """Run until SIGINT/SIGTERM (0) or a fatal stream error (2)."""
        server, listener = await self._start_http()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        stream = asyncio.create_task(self.stream.run_forever())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({stream, stopper}, return_when=asyncio.FIRST_COMPLETED)
        code = self._exit_code(stream)
        stopper.cancel()
        stream.cancel()
        self.scheduler.stop()
        await self.ctx.close()
        await _stop_http(server, listener)
        log.info("agent.stopped", code=code)
        return code

    @staticmethod
    def _exit_code(stream: asyncio.Task[None]) -> int:
        if not stream.done() or stream.cancelled():
            return 0
        error = stream.exception()
        if isinstance(error, FatalError):
            log.error("stream.fatal", error=str(error))
            return 2
        if error is not None:
            log.error("stream.crashed", error=repr(error))
            return 1
        return 0

    async def serve(self, request: BaseRequest) -> StreamResponse:
        """Route a request as aiohttp's router would: GET (and HEAD) on
        /healthz and /metrics, 405 for another method, 404 elsewhere."""
        page = {"/healthz": self.health, "/metrics": self.metrics_page}.get(request.path)
        if page is None:
            raise HTTPNotFound
        if request.method not in _METHODS:
            raise HTTPMethodNotAllowed(request.method, _METHODS)
        return await page(request)

    async def _start_http(self) -> tuple[Server, asyncio.Server]:
        # aiohttp's low-level server: web.Application and its router would
        # cost 1.3 MB of RSS at import for two pages.
        server = Server(self.serve, access_log=None)
        host, port = listen_address(self.settings.http_listen)
        listener = await asyncio.get_running_loop().create_server(server, host, port)
        log.info(
            "agent.started",
            agent=self.settings.agent_id,
            region=self.settings.region,
            collector=self.settings.collector,
            http=self.settings.http_listen,
        )
        return server, listener


async def _stop_http(server: Server, listener: asyncio.Server) -> None:
    """Stop listening, then close connections (as web.AppRunner.cleanup does)."""
    listener.close()
    await asyncio.sleep(0)  # let requests that just arrived start
    server.pre_shutdown()
    await server.shutdown(_SHUTDOWN_TIMEOUT)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vantage-agent`."""
    settings = settings_mod.load(argv)
    logs.setup("agent", settings.log_level)
    redaction.redact(settings.token)
    structlog.contextvars.bind_contextvars(agent=settings.agent_id, region=settings.region)
    install_loop()
    return asyncio.run(Agent(settings).run())
