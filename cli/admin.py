"""Operator commands that need no running collector:

vantage token create --name eu-west-1 --region eu-west
vantage state check [--state-dir DIR]
vantage state reset --backup [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from collector.store import StoreError
from collector.store_check import inspect, recovery, reset
from common.auth import new_token, token_sha256


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Register `token` and `state` on the `vantage` parser."""
    token = sub.add_parser("token", help="make agent tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="print a new agent token once, and its config line")
    create.add_argument("--name", required=True, help="the agent's id (its --agent-id)")
    create.add_argument("--region", required=True, help="the region it reports as")
    state = sub.add_parser("state", help="check or reset the collector's state database")
    actions = state.add_subparsers(dest="action", required=True)
    default_dir = os.environ.get("VANTAGE_STATE_DIR", ".state/collector")
    for name, text in (("check", "check the database, change nothing"), ("reset", "start afresh")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--state-dir", type=Path, default=Path(default_dir))
    reset_parser = actions.choices["reset"]
    keep = reset_parser.add_mutually_exclusive_group(required=True)
    keep.add_argument("--backup", action="store_true", help="keep the old file as *.bad-<time>")
    keep.add_argument("--discard", action="store_true", help="delete the old file")


def run(args: argparse.Namespace) -> int:
    """Run a `token` or `state` command."""
    if args.command == "token":
        return create_token(args.name, args.region)
    if args.action == "check":
        return check_state(args.state_dir)
    return reset_state(args.state_dir, args.backup)


def create_token(name: str, region: str) -> int:
    """Print a fresh token (shown only now) and the `agents:` line with its digest."""
    token = new_token()
    print(f"token (give it to the agent as VANTAGE_TOKEN; it is not shown again): {token}")
    print("add to the collector's config under `agents:`:")
    print(f'  - {{name: {name}, region: {region}, token_sha256: "{token_sha256(token)}"}}')
    return 0


def check_state(state_dir: Path) -> int:
    """0 and a summary when the database is sound; 1 and the problem when not."""
    try:
        counts = inspect(state_dir)
    except StoreError as exc:
        print(f"{exc}; {recovery(state_dir)}", file=sys.stderr)
        return 1
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "schema_version")
    print(f"{state_dir}: OK (schema {counts['schema_version']}): {summary}")
    return 0


def reset_state(state_dir: Path, backup: bool) -> int:
    """Move the database aside (stop the collector first)."""
    touched = reset(state_dir, backup, time.time())
    if not touched:
        print(f"{state_dir}: no state database: nothing to reset")
        return 0
    verb = "kept as" if backup else "deleted"
    for path in touched:
        print(f"{verb} {path}")
    print("the next collector start begins with empty state (open incidents are forgotten)")
    return 0
