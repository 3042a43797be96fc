"""`vantage`: validate a config, or run checks once as a deploy gate.

    vantage validate checks.yaml
    vantage smoke checks.yaml [--only NAME ...] [--junit out.xml] [--fail-fast]
                              [--connect-to HOST:PORT:ADDR:PORT ...] [--dns-server IP[:PORT]]
                              [--format table|json] [--concurrency N]
    vantage token create --name NAME --region REGION
    vantage state check|reset --backup [--state-dir DIR]
    vantage audit example.com [--subdomains app,api] [--format text|md|html|json] ...

`smoke` runs the checks from this machine with the agent's own probe code,
several at once, prints a table with every finding (or JSON), writes JUnit
XML (one testcase per check and per flow step, every finding in the failure
text), and exits 1 if any check failed, 2 if the config is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cli import admin
from cli.audit import command as audit_command
from cli.junit import write_junit
from cli.overrides import Overrides
from cli.smoke import CONCURRENCY, run_checks, summary, to_json
from cli.table import render_table
from collector.alerting.validation import detection_times
from collector.config_source import load_collector_config
from common import logs
from common.cli import Parser
from common.config import CheckBase, Config, ConfigError, load_config
from common.durations import format_duration
from common.runtime import install_loop

_NONE = Overrides()


def _parser() -> Parser:
    p = Parser("vantage", "Vantage command line.")
    sub = p.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check a config file without starting anything")
    validate.add_argument("config", type=Path)
    smoke = sub.add_parser("smoke", help="run checks once from here; exit 1 if any fails")
    smoke.add_argument("config", type=Path)
    smoke.add_argument("--only", nargs="+", metavar="NAME", help="run only these checks")
    smoke.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    smoke.add_argument(
        "--fail-fast", action="store_true", help="run one by one and stop at the first failure"
    )
    smoke.add_argument("--agent-id", default="smoke", help="agent id recorded in results")
    admin.add_commands(sub)
    smoke.add_argument(
        "--connect-to",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR:PORT",
        help="connect there instead, as curl's (for tests against local servers)",
    )
    smoke.add_argument("--dns-server", metavar="IP[:PORT]", help="look names up here instead")
    audit_command.add_parser(sub)
    smoke.add_argument(
        "--format", choices=("table", "json"), default="table", help="what to print on stdout"
    )
    smoke.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, metavar="N", help="checks run at once"
    )
    return p


def validate(path: Path) -> int:
    """Print every problem in the file; 0 when there are none."""
    try:
        config, alerting = load_collector_config(path, env=None)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print_detection(config, alerting.detection_budget)
    receivers = f", {len(alerting.receivers)} receivers" if alerting.receivers else ""
    print(f"{path}: {len(config.checks)} checks{receivers} OK (version {config.version})")
    return 0


DETECTION_LINES = 20
"""Checks listed by `validate`, slowest first; a big file gets a summary."""


def print_detection(config: Config, budget: float) -> None:
    """Each check's worst-case time from failure to page, slowest first."""
    times = sorted(detection_times(config).items(), key=lambda kv: (-kv[1], kv[0]))
    if not times:
        return
    print(f"worst-case time to page (detection budget {format_duration(budget)}):")
    for name, took in times[:DETECTION_LINES]:
        mark = "  OVER BUDGET" if took > budget else ""
        print(f"  {name}: {format_duration(took)}{mark}")
    if len(times) > DETECTION_LINES:
        over = sum(1 for _, took in times if took > budget)
        print(f"  ... and {len(times) - DETECTION_LINES} more ({over} over budget in all)")


def select(config: Config, only: Sequence[str] | None) -> list[CheckBase]:
    """The checks to run (heartbeats are pushed by jobs, so never run from
    here); ConfigError naming any unknown or unrunnable name."""
    runnable = [c for c in config.checks if c.probed]
    if not only:
        return runnable
    problems = [f"{config.source}: no check named {n!r}" for n in only if config.check(n) is None]
    problems += [
        f"{config.source}: check {c.name!r} is a {c.type}: there is nothing to run from here"
        for c in config.checks
        if c.name in only and not c.probed
    ]
    if problems:
        raise ConfigError(problems)
    return [c for c in runnable if c.name in only]


def smoke(args: argparse.Namespace) -> int:
    """The deploy gate."""
    try:
        config = load_config(args.config)
        checks = select(config, args.only)
        overrides = Overrides.parse(args.connect_to, args.dns_server)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"vantage smoke: {exc}", file=sys.stderr)
        return 2
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    install_loop()
    results = asyncio.run(
        run_checks(checks, args.fail_fast, args.agent_id, args.concurrency, overrides)
    )
    if args.junit:
        write_junit(results, checks, args.junit)
    counts = summary(results, checks)
    if args.format == "json":
        print(to_json(results, checks))
    else:
        print(render_table(results))
        skipped = f", {counts['skipped']} skipped" if counts["skipped"] else ""
        print(f"\n{counts['passed']} passed, {counts['failed']} failed{skipped}")
    return 1 if counts["failed"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vantage`."""
    args = _parser().parse_args(argv)
    logs.setup("cli", os.environ.get("VANTAGE_LOG_LEVEL", "warning"))
    if args.command == "validate":
        return validate(args.config)
    if args.command in ("token", "state"):
        return admin.run(args)
    if args.command == "audit":
        return audit_command.run(args)
    return smoke(args)
