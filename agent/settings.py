"""Agent settings: three are required (collector, region, token); each flag
has an environment variable twin (`VANTAGE_<FLAG>`)."""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common.addresses import default_listen


@dataclass(frozen=True)
class Settings:
    """Everything an agent needs to start."""

    collector: str
    region: str
    token: str
    agent_id: str
    http_listen: str
    tls_ca: str | None
    batch_size: int
    flush_interval: float
    spool_limit: int
    log_level: str


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"VANTAGE_{name}", default)


def parser() -> argparse.ArgumentParser:
    """The agent's command line; --help documents the env twins."""
    p = argparse.ArgumentParser(
        prog="vantage-agent",
        description="Run Vantage probes for one region and stream results to a collector.",
        epilog="Every flag can be set by an environment variable, e.g. VANTAGE_COLLECTOR.",
    )
    add = p.add_argument
    add(
        "--collector",
        default=_env("COLLECTOR"),
        help="collector gRPC address host:port [VANTAGE_COLLECTOR]",
    )
    add(
        "--region",
        default=_env("REGION"),
        help="this agent's region, e.g. eu-west [VANTAGE_REGION]",
    )
    add("--token", default=_env("TOKEN"), help="bearer token for the collector [VANTAGE_TOKEN]")
    add(
        "--token-file",
        default=_env("TOKEN_FILE"),
        help="read the token from this file [VANTAGE_TOKEN_FILE]",
    )
    add(
        "--agent-id",
        default=_env("AGENT_ID", socket.gethostname()),
        help="agent id (default: hostname) [VANTAGE_AGENT_ID]",
    )
    add(
        "--http-listen",
        # VANTAGE_HTTP_LISTEN is the older name, still read; the collector
        # has its own variable, so one environment can set both.
        default=_env("AGENT_HTTP_LISTEN", _env("HTTP_LISTEN", default_listen(9792))),
        help="/metrics and /healthz address; all interfaces when VANTAGE_IN_CONTAINER=1, "
        "else loopback [VANTAGE_AGENT_HTTP_LISTEN]",
    )
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
    add(
        "--spool-limit",
        type=int,
        default=int(_env("SPOOL_LIMIT", "100000") or 100000),
        help="unacked results kept while disconnected [VANTAGE_SPOOL_LIMIT]",
    )
    add(
        "--log-level",
        default=_env("LOG_LEVEL", "info"),
        help="debug, info, warning, error [VANTAGE_LOG_LEVEL]",
    )
    return p


def load(argv: Sequence[str] | None = None) -> Settings:
    """Parse flags and environment; exit with a message naming what is missing."""
    p = parser()
    args = p.parse_args(argv)
    token = args.token
    if token is None and args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
    missing = [
        f"--{n} (or VANTAGE_{n.upper()})"
        for n, v in (("collector", args.collector), ("region", args.region), ("token", token))
        if not v
    ]
    if missing:
        p.error("missing " + ", ".join(missing))
    if not 0 < args.flush_interval <= 1:
        p.error("--flush-interval must be in (0, 1] seconds")
    return Settings(
        collector=args.collector,
        region=args.region,
        token=token,
        agent_id=args.agent_id,
        http_listen=args.http_listen,
        tls_ca=args.tls_ca,
        batch_size=args.batch_size,
        flush_interval=args.flush_interval,
        spool_limit=args.spool_limit,
        log_level=args.log_level,
    )
