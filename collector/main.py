"""Wire the collector together and run it until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import structlog
from aiohttp import web

from collector.alerting.config import AlertingConfig
from collector.alerting.policies import policies
from collector.alerting.service import AlertingService
from collector.api import Api
from collector.api_alerting import AlertingApi
from collector.config_source import ConfigSource
from collector.metrics import CollectorMetrics
from collector.model import Sample
from collector.server import DEFAULT_RATE, KEEPALIVE_OPTIONS, CollectorService, Ingest
from collector.shard import Shard, parse_shard
from collector.stats.series import Stats
from collector.status_page import StatusPage
from collector.store import CorruptStore, Store, StoreError
from collector.store_check import recovery
from common import logs, redaction
from common.addresses import default_listen, listen_address
from common.auth import AgentTokens, Binding, read_token_file
from common.cli import Parser
from common.config import Config, ConfigError
from common.runtime import (
    COLLECTOR_MIDDLE,
    build_to_last,
    collect_young,
    favour_the_loop,
    freeze_survivors,
    gc_paused,
    install_loop,
    settle_heap,
)
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
    agent_tokens_file: Path | None = None
    """Shared agent tokens, one per line; re-read on SIGHUP and on every config change."""
    agent_rate: float = DEFAULT_RATE
    detailed_metrics: bool = False
    private: bool = False
    """The status page and the read API need an API token."""
    shard: Shard = field(default_factory=Shard)
    """The checks this collector owns (all of them by default)."""


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    """The collector's command line; a bad flag or file exits with one line."""
    env = os.environ.get
    p = Parser(
        "vantage-collector",
        "Ingest probe results from Vantage agents; serve metrics, state and alerts.",
        "Agent tokens: bound ones in the config's `agents:` section (vantage token "
        "create), shared ones from VANTAGE_AGENT_TOKENS (comma-separated) or --agent-tokens-file. "
        "API tokens (deploys, silences, heartbeat tokens, the status page) from "
        "VANTAGE_API_TOKENS or --api-tokens-file. Files hold one token per line and keep tokens "
        "out of ps. Listen addresses default to all interfaces when VANTAGE_IN_CONTAINER=1 (the "
        "image sets it), to loopback otherwise.",
    )
    p.add_argument(
        "--config",
        default=env("VANTAGE_CONFIG", str(DEFAULT_CONFIG)),
        help="checks YAML file [VANTAGE_CONFIG]",
    )
    p.add_argument(
        "--grpc-listen",
        default=env(
            "VANTAGE_COLLECTOR_GRPC_LISTEN", env("VANTAGE_GRPC_LISTEN", default_listen(9790))
        ),
        help="agent gRPC address [VANTAGE_COLLECTOR_GRPC_LISTEN]",
    )
    p.add_argument(
        "--http-listen",
        default=env("VANTAGE_COLLECTOR_HTTP_LISTEN", default_listen(9791)),
        help="status page, /metrics, /healthz, /readyz and API address "
        "[VANTAGE_COLLECTOR_HTTP_LISTEN]",
    )
    p.add_argument(
        "--state-dir",
        default=env("VANTAGE_STATE_DIR", ".state/collector"),
        help="where state is kept [VANTAGE_STATE_DIR]",
    )
    p.add_argument(
        "--log-level",
        default=env("VANTAGE_LOG_LEVEL", "info"),
        choices=("debug", "info", "warning", "error"),
        help="[VANTAGE_LOG_LEVEL]",
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
    p.add_argument(
        "--agent-tokens-file",
        default=env("VANTAGE_AGENT_TOKENS_FILE"),
        help="shared agent tokens, one per line [VANTAGE_AGENT_TOKENS_FILE]",
    )
    p.add_argument(
        "--api-tokens-file",
        default=env("VANTAGE_API_TOKENS_FILE"),
        help="API tokens, one per line [VANTAGE_API_TOKENS_FILE]",
    )
    p.add_argument(
        "--agent-rate",
        type=float,
        default=float(env("VANTAGE_AGENT_RATE", str(DEFAULT_RATE))),
        help="results per second one agent may send; RESOURCE_EXHAUSTED past it "
        "[VANTAGE_AGENT_RATE]",
    )
    p.add_argument(
        "--detailed-metrics",
        action="store_true",
        default=env("VANTAGE_DETAILED_METRICS", "") not in ("", "0", "false"),
        help="also export the costly per-series families: the rest of blackbox_exporter's "
        "probe_* names, the duration histogram, the 1h window, and instance/target on every "
        "line (~28 lines per https series instead of 7; docs/architecture.md) "
        "[VANTAGE_DETAILED_METRICS=1]",
    )
    p.add_argument(
        "--private",
        action="store_true",
        default=env("VANTAGE_PRIVATE", "") not in ("", "0", "false"),
        help="the status page and every GET under /api/ need an API token (Bearer or ?token=) "
        "[VANTAGE_PRIVATE=1]",
    )
    p.add_argument(
        "--shard",
        default=env("VANTAGE_SHARD", "0/1"),
        help="own shard K of N: the checks whose name hashes to K; K may be `ordinal`, the "
        "number ending the host name (a StatefulSet pod) [VANTAGE_SHARD]",
    )
    args = p.parse_args(argv)
    _check_args(p, args)
    try:
        shard = parse_shard(args.shard)
    except ValueError as exc:
        p.error(f"--shard {exc}")
    agent_file = Path(args.agent_tokens_file) if args.agent_tokens_file else None
    api_tokens = _tokens("VANTAGE_API_TOKENS")
    try:
        if agent_file is not None:
            read_token_file(agent_file)
        if args.api_tokens_file:
            api_tokens += read_token_file(Path(args.api_tokens_file))
    except (OSError, ValueError) as exc:
        p.error(f"token file: {_why(exc)}")
    return Settings(
        Path(args.config),
        args.grpc_listen,
        args.http_listen,
        Path(args.state_dir),
        _tokens("VANTAGE_AGENT_TOKENS"),
        args.log_level,
        api_tokens,
        Path(args.tls_cert) if args.tls_cert else None,
        Path(args.tls_key) if args.tls_key else None,
        agent_file,
        args.agent_rate,
        args.detailed_metrics,
        args.private,
        shard,
    )


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with one line for a bad flag, a missing file or an unusable directory."""
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    for flag in ("grpc_listen", "http_listen"):
        try:
            listen_address(getattr(args, flag))
        except ValueError as exc:
            p.error(f"--{flag.replace('_', '-')}: {exc}")
    for flag in ("config", "tls_cert", "tls_key"):
        value = getattr(args, flag)
        if value and not os.access(value, os.R_OK):
            p.error(f"--{flag.replace('_', '-')} {value}: cannot read this file")
    problem = _state_dir_problem(Path(args.state_dir))
    if problem:
        p.error(f"--state-dir {args.state_dir}: {problem}")


def _state_dir_problem(path: Path) -> str | None:
    """Why the state directory cannot be used, or None: made if missing,
    then written to once, so a read-only volume fails at start, not later."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return f"cannot write here ({exc.strerror}); give the collector's user a writable directory"
    return None


def _tokens(variable: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in os.environ.get(variable, "").split(",") if t.strip())


def _why(exc: BaseException) -> str:
    """One line for a start-up error: the file and the OS's reason."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


class Collector:
    """One collector process: gRPC for agents, HTTP for everyone else."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = Stats()
        self.metrics = CollectorMetrics(self.stats, detailed=settings.detailed_metrics)
        self.source = ConfigSource(
            settings.config,
            self._config_changed,
            self._reloaded,
            settings.shard.select,
            isolated=True,
        )
        self.store = Store.open(settings.state_dir, on_error=self.metrics.store_errors.inc)
        self.ingest = Ingest(self.on_samples, persist=self.store.save_mark)
        self.agent_tokens = self._read_agent_tokens(AgentTokens())
        if not self.agent_tokens:
            raise ConfigError(
                [
                    "no agent tokens: add `agents:` to the config (vantage token create), or set "
                    "VANTAGE_AGENT_TOKENS=token1,token2 or --agent-tokens-file"
                ]
            )
        self.service = CollectorService(
            lambda: self.source.config,
            lambda: self.agent_tokens,
            self.ingest,
            self.metrics,
            rate=settings.agent_rate,
            audit=settings.log_level == "debug",
        )
        self.alerting = AlertingService(self.store, self.metrics)
        self.alerting.agents_connected = lambda: len(self.service.agents)
        self.alerting.configure(self.source.config, self.source.alerting)
        self.alerting.restore()
        skipped = self.ingest.restore(self.store.marks(), time.time())
        if skipped:
            log.warning("dedup.marks_skipped", count=skipped)
        self.serving = False
        self._tasks: set[asyncio.Task[object]] = set()
        self._applying = asyncio.Lock()
        self.metrics.config_info.labels(self.source.config.version).set(1)
        self.metrics.set_targets(self.source.config.checks)

    def on_samples(self, samples: list[Sample], now: float) -> None:
        """Deduplicated samples from an agent."""
        self.stats.ingest(samples, now)
        self.alerting.observe(samples, now)

    def _read_agent_tokens(self, current: AgentTokens) -> AgentTokens:
        """Bound tokens from the config, shared ones from the environment and
        the tokens file; an unreadable file keeps the `current` shared ones."""
        shared = self.settings.tokens
        path = self.settings.agent_tokens_file
        if path is not None:
            try:
                shared += read_token_file(path)
            except (OSError, ValueError) as exc:
                log.error("tokens.unreadable", file=str(path), error=_why(exc))
                return AgentTokens(_bindings(self.source.config), current.shared, hashed=True)
        return AgentTokens(_bindings(self.source.config), shared)

    def _retoken(self) -> None:
        """Apply the tokens in force now; close the streams of removed ones."""
        self.agent_tokens = self._read_agent_tokens(self.agent_tokens)
        self.service.revoke()

    def _config_changed(self, config: Config, alerting: AlertingConfig) -> None:
        self._retoken()
        self.stats.forget(c.name for c in config.checks)
        self.metrics.config_info.clear()
        self.metrics.config_info.labels(config.version).set(1)
        task = asyncio.get_running_loop().create_task(self._apply_config(config, alerting))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply_config(self, config: Config, alerting: AlertingConfig) -> None:
        """Hand a new config to metrics, alerting and agents, in reload order.
        What costs per check runs in threads: at 10,000 checks the target
        labels took ~0.1 s and the alerting policies ~0.3 s of the event loop
        (/healthz stalled for as long)."""
        async with self._applying:
            await asyncio.to_thread(build_to_last, lambda: self.metrics.set_targets(config.checks))
            prepared = await asyncio.to_thread(build_to_last, lambda: policies(config))
            await self.alerting.reconfigure(config, alerting, prepared)
            await self.service.broadcast(config)

    def _reloaded(self, ok: bool) -> None:
        self.metrics.config_reloads.labels("success" if ok else "failure").inc()
        if not ok:
            self.metrics.config_reload_errors.inc()

    def reload(self, reason: str) -> None:
        """Re-read the tokens file and reload the config file (off the event
        loop), counting the outcome."""
        self._retoken()
        task = asyncio.get_running_loop().create_task(self.source.reload_async(reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _add_port(self, server: grpc.aio.Server) -> int:
        """Listen for agents: TLS when a certificate is configured."""
        s = self.settings
        if s.tls_cert is None or s.tls_key is None:
            return server.add_insecure_port(s.grpc_listen)
        credentials = grpc.ssl_server_credentials(
            [(s.tls_key.read_bytes(), s.tls_cert.read_bytes())]
        )
        return server.add_secure_port(s.grpc_listen, credentials)

    def unready(self) -> list[str]:
        """Why the collector is not ready; empty when it is."""
        problems = [] if self.serving else ["starting or stopping"]
        if self.store.problem is not None:
            problems.append(f"state store {self.store.path}: {self.store.problem}")
        return problems

    async def _listen(self) -> tuple[grpc.aio.Server, web.AppRunner] | None:
        """Open both ports; None (after one log line) when one is taken."""
        # Without so_reuseport a second collector on the same port fails to
        # bind instead of silently sharing the port's connections.
        server = grpc.aio.server(options=[*KEEPALIVE_OPTIONS, ("grpc.so_reuseport", 0)])
        pb_grpc.add_CollectorServicer_to_server(self.service, server)
        why = _bind_problem(self.settings.grpc_listen)
        if why is None:
            try:
                bound = self._add_port(server)
            except RuntimeError:  # grpc raises it for a port in use
                bound = 0
            why = None if bound else "cannot bind"
        if why is not None:
            log.error("collector.cannot_listen", grpc=self.settings.grpc_listen, why=why)
            return None
        api = Api(
            lambda: self.source.config,
            self.stats,
            self.metrics.registry,
            self.unready,
            exposition=self.metrics.series,
            read_tokens=self.settings.api_tokens if self.settings.private else None,
        )
        app = api.app()
        AlertingApi(self.alerting, self.settings.api_tokens).add_routes(app)
        StatusPage(lambda: self.source.config, self.stats, self.alerting).add_routes(app)
        # No access log: ping URLs carry secret tokens.
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = listen_address(self.settings.http_listen)
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            log.error("collector.cannot_listen", http=self.settings.http_listen, why=exc.strerror)
            await runner.cleanup()
            return None
        await server.start()
        return server, runner

    async def run(self) -> int:
        """Serve until a stop signal; 4 when a port cannot be opened."""
        listening = await self._listen()
        if listening is None:
            self.store.close()
            return 4
        server, runner = listening
        self.serving = True
        log.info(
            "collector.started",
            grpc=self.settings.grpc_listen,
            http=self.settings.http_listen,
            config=str(self.settings.config),
            version=self.source.config.version,
            checks=len(self.source.config.checks),
            shard=str(self.settings.shard),
        )
        fresh = asyncio.create_task(self.metrics.series.keep_fresh())
        fresh.add_done_callback(_crash_logger("metrics.render_crashed"))
        alerting = asyncio.create_task(self.alerting.run())
        alerting.add_done_callback(_crash_logger("alerting.crashed"))
        young = asyncio.create_task(collect_young())
        await self._until_stopped()
        self.serving = False
        await server.stop(grace=1.0)
        alerting.cancel()
        fresh.cancel()
        young.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await alerting
        self.store.retry()
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
        retrier = asyncio.create_task(self._keep_store())
        await stop.wait()
        watcher.cancel()
        retrier.cancel()

    async def _keep_store(self) -> None:
        # Failed writes (disk full, read-only) are kept by the store; this
        # writes them once the disk works again, even if nothing else writes.
        # The log is copied into the database file here, in a thread, not
        # by whichever commit on the event loop makes it long.
        self.store.hand_off_checkpoints()
        while True:
            await asyncio.sleep(1.0)
            if self.store.problem is not None:
                self.store.retry()
            await asyncio.to_thread(self.store.checkpoint)


def _bind_problem(address: str) -> str | None:
    """Why `address` cannot be listened on, found with a plain socket first:
    gRPC's own failure is a multi-line C-core log, not one line."""
    host, port = listen_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _bindings(config: Config) -> list[Binding]:
    return [Binding(a.name, a.region, a.token_sha256) for a in config.agents]


def _crash_logger(event: str) -> Callable[[asyncio.Task[None]], None]:
    """A done-callback that logs `event` when a background task crashed."""

    def done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error(event, error=repr(task.exception()), exc_info=task.exception())

    return done


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vantage-collector`."""
    settings = parse_args(argv)
    logs.setup("collector", settings.log_level)
    for token in settings.tokens:
        redaction.redact(token)
    try:
        with gc_paused():
            collector = Collector(settings)
    except ConfigError as exc:
        # Plain lines, as `vantage validate` prints them: the first thing an
        # operator reads when the collector will not start.
        for problem in exc.problems:
            print(f"vantage-collector: error: {problem}", file=sys.stderr)
        return 2
    except CorruptStore as exc:
        log.error("store.corrupt", error=str(exc), recover=recovery(settings.state_dir))
        return 3
    except StoreError as exc:
        log.error("store.unusable", error=str(exc))
        return 3
    install_loop()
    favour_the_loop()
    settle_heap(middle=COLLECTOR_MIDDLE)
    freeze_survivors()
    return asyncio.run(collector.run())
