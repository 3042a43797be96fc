"""Wire the collector together and run it until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import structlog
from aiohttp import web

from collector.alerting.config import AlertingConfig
from collector.alerting.service import AlertingService
from collector.api import Api
from collector.api_alerting import AlertingApi
from collector.config_source import ConfigSource
from collector.metrics import CollectorMetrics
from collector.model import Sample
from collector.server import CollectorService, Ingest
from collector.stats.series import Stats
from collector.store import Store
from common import logs
from common.addresses import listen_address
from common.config import Config, ConfigError
from common.runtime import install_loop, settle_heap
from vantage.v1 import vantage_pb2_grpc as pb_grpc

log = structlog.get_logger("collector")

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "examples" / "checks.yaml"


@dataclass(frozen=True)
class Settings:
    """Collector settings from flags and their VANTAGE_* twins."""

    config: Path
    grpc_listen: str
    http_listen: str
    state_dir: Path
    tokens: tuple[str, ...]
    log_level: str
    api_tokens: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    """The collector's command line."""
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog="vantage-collector",
        description="Ingest probe results from Vantage agents; serve metrics, state and alerts.",
        epilog="Agent tokens come from VANTAGE_AGENT_TOKENS, API tokens (deploys, silences, "
        "heartbeat tokens) from VANTAGE_API_TOKENS; both comma-separated.",
    )
    p.add_argument(
        "--config",
        default=env("VANTAGE_CONFIG", str(DEFAULT_CONFIG)),
        help="checks YAML file [VANTAGE_CONFIG] (default: the bundled example)",
    )
    p.add_argument(
        "--grpc-listen",
        default=env("VANTAGE_GRPC_LISTEN", "127.0.0.1:9790"),
        help="agent gRPC address [VANTAGE_GRPC_LISTEN]",
    )
    p.add_argument(
        "--http-listen",
        default=env("VANTAGE_HTTP_LISTEN", "127.0.0.1:9791"),
        help="/metrics, /healthz, /readyz and API address [VANTAGE_HTTP_LISTEN]",
    )
    p.add_argument(
        "--state-dir",
        default=env("VANTAGE_STATE_DIR", ".state/collector"),
        help="where state is kept [VANTAGE_STATE_DIR]",
    )
    p.add_argument(
        "--log-level",
        default=env("VANTAGE_LOG_LEVEL", "info"),
        help="debug, info, warning, error [VANTAGE_LOG_LEVEL]",
    )
    p.add_argument(
        "--tls-cert",
        default=env("VANTAGE_TLS_CERT"),
        help="PEM certificate chain for TLS on the gRPC port; plaintext if unset "
        "[VANTAGE_TLS_CERT]",
    )
    p.add_argument(
        "--tls-key",
        default=env("VANTAGE_TLS_KEY"),
        help="PEM private key for --tls-cert [VANTAGE_TLS_KEY]",
    )
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    tokens = _tokens("VANTAGE_AGENT_TOKENS")
    if not tokens:
        p.error("no agent tokens: set VANTAGE_AGENT_TOKENS=token1,token2")
    for flag in ("grpc_listen", "http_listen"):
        try:
            listen_address(getattr(args, flag))
        except ValueError as exc:
            p.error(f"--{flag.replace('_', '-')}: {exc}")
    return Settings(
        Path(args.config),
        args.grpc_listen,
        args.http_listen,
        Path(args.state_dir),
        tokens,
        args.log_level,
        _tokens("VANTAGE_API_TOKENS"),
        Path(args.tls_cert) if args.tls_cert else None,
        Path(args.tls_key) if args.tls_key else None,
    )


def _tokens(variable: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in os.environ.get(variable, "").split(",") if t.strip())


class Collector:
    """One collector process: gRPC for agents, HTTP for everyone else."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = Stats()
        self.metrics = CollectorMetrics(self.stats)
        self.source = ConfigSource(settings.config, self._config_changed)
        self.ingest = Ingest(self.on_samples)
        self.service = CollectorService(
            lambda: self.source.config, lambda: list(settings.tokens), self.ingest, self.metrics
        )
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(settings.state_dir)
        self.alerting = AlertingService(self.store, self.metrics)
        self.alerting.configure(self.source.config, self.source.alerting)
        self.alerting.restore()
        self.ingest.high_water.update(self.store.load_state("dedup") or {})
        self.serving = False
        self.metrics.config_info.labels(self.source.config.version).set(1)

    def on_samples(self, samples: list[Sample], now: float) -> None:
        """Deduplicated samples from an agent."""
        self.stats.ingest(samples, now)
        self.alerting.observe(samples, now)

    def _config_changed(self, config: Config, alerting: AlertingConfig) -> None:
        self.stats.forget(c.name for c in config.checks)
        self.metrics.config_info.clear()
        self.metrics.config_info.labels(config.version).set(1)
        self.alerting.configure(config, alerting)
        self.service.broadcast(config)

    def reload(self, reason: str) -> None:
        """Reload the config file, counting the outcome."""
        ok = self.source.reload(reason)
        self.metrics.config_reloads.labels("success" if ok else "failure").inc()

    def _add_port(self, server: grpc.aio.Server) -> int:
        """Listen for agents: TLS when a certificate is configured."""
        s = self.settings
        if s.tls_cert is None or s.tls_key is None:
            return server.add_insecure_port(s.grpc_listen)
        credentials = grpc.ssl_server_credentials(
            [(s.tls_key.read_bytes(), s.tls_cert.read_bytes())]
        )
        return server.add_secure_port(s.grpc_listen, credentials)

    async def run(self) -> int:
        """Serve until a stop signal."""
        server = grpc.aio.server()
        pb_grpc.add_CollectorServicer_to_server(self.service, server)
        if self._add_port(server) == 0:
            log.error("collector.grpc_bind_failed", address=self.settings.grpc_listen)
            return 1
        await server.start()
        api = Api(
            lambda: self.source.config, self.stats, self.metrics.registry, lambda: self.serving
        )
        app = api.app()
        AlertingApi(self.alerting, self.settings.api_tokens).add_routes(app)
        # No access log: ping URLs carry secret tokens.
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = listen_address(self.settings.http_listen)
        await web.TCPSite(runner, host, port).start()
        self.serving = True
        log.info(
            "collector.started",
            grpc=self.settings.grpc_listen,
            http=self.settings.http_listen,
            config=str(self.settings.config),
            version=self.source.config.version,
            checks=len(self.source.config.checks),
        )
        alerting = asyncio.create_task(self.alerting.run())
        alerting.add_done_callback(_log_crash)
        await self._until_stopped()
        self.serving = False
        await server.stop(grace=1.0)
        alerting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await alerting
        self.store.save_state("dedup", self.ingest.high_water)
        self.store.close()
        await runner.cleanup()
        log.info("collector.stopped")
        return 0

    async def _until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload, "SIGHUP")
        watcher = asyncio.create_task(self.source.watch())
        saver = asyncio.create_task(self._save_dedup())
        await stop.wait()
        watcher.cancel()
        saver.cancel()

    async def _save_dedup(self) -> None:
        # The high-water marks are cheap to lose (a re-sent batch would count
        # twice once), so they are saved every few seconds, not per batch.
        while True:
            await asyncio.sleep(5)
            self.store.save_state("dedup", self.ingest.high_water)


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("alerting.crashed", error=repr(task.exception()), exc_info=task.exception())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vantage-collector`."""
    settings = parse_args(argv)
    logs.setup("collector", settings.log_level)
    for token in settings.tokens:
        logs.redact(token)
    try:
        collector = Collector(settings)
    except ConfigError as exc:
        log.error("config.invalid", errors=exc.problems)
        return 2
    install_loop()
    settle_heap()
    return asyncio.run(collector.run())
