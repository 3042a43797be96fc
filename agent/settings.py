"""Agent settings: three are required (collector, region, token); each flag
has an environment variable twin (`VANTAGE_<FLAG>`). A bad value ends the
agent with one line (argparse's `error`), never a traceback."""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.addresses import default_listen, split_host_port
from common.cli import Parser
from common.config.dns import dns_server
from common.durations import parse_duration

GRPC_PORT = 9790
"""The collector's default gRPC port (its --grpc-listen)."""


@dataclass(frozen=True)
class Settings:
    """Everything an agent needs to start."""

    collectors: tuple[str, ...]
    region: str
    token: str
    agent_id: str
    http_listen: str
    tls_ca: str | None
    batch_size: int
    flush_interval: float
    state_dir: Path
    spool_max_bytes: int
    spool_max_age: float
    fsync_interval: float
    backfill_rate: float
    keepalive: float
    shed_after: float
    log_level: str
    dns_server: tuple[str, int] | None = None
    """Where probes look names up (exact DNS failure reasons); None: the system."""


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"VANTAGE_{name}", default)


def parser() -> argparse.ArgumentParser:
    """The agent's command line; --help shows each default and env twin."""
    p = Parser(
        "vantage-agent",
        description="Run Vantage probes for one region and stream results to collectors.",
        epilog="Every flag can be set by an environment variable, e.g. VANTAGE_COLLECTOR.",
    )
    _identity_flags(p.add_argument)
    _delivery_flags(p.add_argument)
    _spool_flags(p.add_argument)
    return p


def _identity_flags(add: Callable[..., object]) -> None:
    """Who the agent is and where its collectors are."""
    add(
        "--collector",
        default=_env("COLLECTOR"),
        help="collector gRPC address host:port, or a comma-separated list of shards "
        "[VANTAGE_COLLECTOR]",
    )
    add(
        "--region",
        default=_env("REGION"),
        help="this agent's region, e.g. eu-west [VANTAGE_REGION]",
    )
    # No default shown for the token: --help must never print a secret.
    add("--token", help="bearer token for the collector [VANTAGE_TOKEN]")
    add(
        "--token-file",
        default=_env("TOKEN_FILE"),
        help="read the token from this file [VANTAGE_TOKEN_FILE]",
    )
    add(
        "--agent-id",
        default=_env("AGENT_ID"),
        help="agent id; unique per host and region when unset: HOSTNAME-REGION [VANTAGE_AGENT_ID]",
    )
    add(
        "--http-listen",
        # VANTAGE_HTTP_LISTEN is the older name, still read; the collector
        # has its own variable, so one environment can set both.
        default=_env("AGENT_HTTP_LISTEN", _env("HTTP_LISTEN", default_listen(9792))),
        help="address of /, /metrics, /healthz and /readyz; all interfaces when "
        "VANTAGE_IN_CONTAINER=1, else loopback [VANTAGE_AGENT_HTTP_LISTEN]",
    )


def _delivery_flags(add: Callable[..., object]) -> None:
    """How results travel: TLS, batching, backfill, keepalive, shedding."""
    add(
        "--tls-ca",
        default=_env("TLS_CA"),
        help="CA file to verify a TLS collector; plaintext if unset [VANTAGE_TLS_CA]",
    )
    add(
        "--batch-size",
        type=int,
        default=int(_env("BATCH_SIZE", "500") or 500),
        help="results per message [VANTAGE_BATCH_SIZE]",
    )
    add(
        "--flush-interval",
        type=float,
        default=float(_env("FLUSH_INTERVAL", "0.5") or 0.5),
        help="seconds between flushes, at most 1 [VANTAGE_FLUSH_INTERVAL]",
    )


def _spool_flags(add: Callable[..., object]) -> None:
    """The state dir and the spool's bounds."""
    add(
        "--state-dir",
        default=_env("STATE_DIR"),
        help="spool and saved config; .state/agent/AGENT_ID when unset [VANTAGE_STATE_DIR]",
    )
    add(
        "--spool-max-bytes",
        type=int,
        default=int(_env("SPOOL_MAX_BYTES", str(256 << 20)) or 0),
        help="spool bound in bytes; past it the oldest are dropped [VANTAGE_SPOOL_MAX_BYTES]",
    )
    add(
        "--spool-max-age",
        default=_env("SPOOL_MAX_AGE", "24h"),
        help="results older than this are dropped from the spool [VANTAGE_SPOOL_MAX_AGE]",
    )
    add(
        "--fsync-interval",
        default=_env("FSYNC_INTERVAL", "1s"),
        help="spool fsync period: what a machine crash can lose [VANTAGE_FSYNC_INTERVAL]",
    )
    add(
        "--backfill-rate",
        type=float,
        default=float(_env("BACKFILL_RATE", "2000") or 2000),
        help="results per second sent from an outage's backlog [VANTAGE_BACKFILL_RATE]",
    )
    add(
        "--keepalive",
        default=_env("KEEPALIVE", "10s"),
        help="gRPC ping interval; a peer silent twice as long is dead [VANTAGE_KEEPALIVE]",
    )
    add(
        "--shed-after",
        default=_env("SHED_AFTER", "1s"),
        help="a run this late for its slot is shed (counted, not run) [VANTAGE_SHED_AFTER]",
    )
    add(
        "--dns-server",
        default=_env("DNS_SERVER"),
        help="IP[:PORT] of a DNS server for probes' name lookups, so a refused, failed or "
        "silent lookup gets its own reason; the system resolver when unset [VANTAGE_DNS_SERVER]",
    )
    add(
        "--log-level",
        default=_env("LOG_LEVEL", "info"),
        help="debug, info, warning, error [VANTAGE_LOG_LEVEL]",
    )


def collector_addresses(value: str) -> tuple[str, ...]:
    """Split and check `--collector`; ValueError with a one-line reason."""
    out = []
    for item in (part.strip() for part in value.split(",")):
        if "://" in item:
            host = item.split("://", 1)[1].rstrip("/")
            raise ValueError(
                f"--collector takes a gRPC host:port, not a URL: write {host!r}, not {item!r}"
            )
        host, port = split_host_port(item, GRPC_PORT)
        out.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return tuple(out)


def read_token(args: argparse.Namespace) -> str | None:
    """The token from --token, VANTAGE_TOKEN or --token-file; ValueError if
    the file cannot be read."""
    token: str | None = args.token or _env("TOKEN")
    if token is None and args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"--token-file {args.token_file}: {exc.strerror}") from exc
        if not token:
            raise ValueError(f"--token-file {args.token_file}: the file is empty")
    return token


def writable_dir(path: Path) -> Path:
    """Create `path` if need be and prove it writable; ValueError if not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(f"--state-dir {path}: cannot write there: {exc.strerror}") from exc
    return path


def load(argv: Sequence[str] | None = None) -> Settings:
    """Parse flags and environment; exit with one line naming what is wrong."""
    p = parser()
    args = p.parse_args(argv)
    try:
        return _build(args)
    except ValueError as exc:
        p.error(str(exc))


def _build(args: argparse.Namespace) -> Settings:
    token = read_token(args)
    missing = [
        f"--{n} (or VANTAGE_{n.upper()})"
        for n, v in (("collector", args.collector), ("region", args.region), ("token", token))
        if not v
    ]
    if missing:
        raise ValueError("missing " + ", ".join(missing))
    if not 0 < args.flush_interval <= 1:
        raise ValueError("--flush-interval must be in (0, 1] seconds")
    agent_id = args.agent_id or f"{socket.gethostname()}-{args.region}"
    state_dir = Path(args.state_dir or Path(".state", "agent", agent_id))
    return Settings(
        collectors=collector_addresses(args.collector),
        region=args.region,
        token=str(token),
        agent_id=agent_id,
        http_listen=args.http_listen,
        tls_ca=args.tls_ca,
        batch_size=args.batch_size,
        flush_interval=args.flush_interval,
        state_dir=writable_dir(state_dir),
        spool_max_bytes=args.spool_max_bytes,
        spool_max_age=_duration("--spool-max-age", args.spool_max_age),
        fsync_interval=_duration("--fsync-interval", args.fsync_interval),
        backfill_rate=args.backfill_rate,
        keepalive=_duration("--keepalive", args.keepalive),
        shed_after=_duration("--shed-after", args.shed_after),
        log_level=args.log_level,
        dns_server=_dns_server(args.dns_server),
    )


def _dns_server(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    try:
        return split_host_port(dns_server(value), 53)
    except ValueError as exc:
        raise ValueError(f"--dns-server: {exc}") from exc


def _duration(flag: str, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}") from exc
