"""`vantage audit DOMAIN ...`: the subcommand's flags and its run.

Exit status: 0 ship (no blocker), 1 fix first, 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from cli.audit.facts import Options
from cli.audit.render import RENDERERS
from cli.audit.render.common import headline
from cli.audit.run import audit
from cli.audit.write_checks import write_checks
from cli.overrides import Overrides
from common.cli import Parser
from common.config import ConfigError
from common.config.dns import validate_dns_name
from common.config.email_auth import DKIM_SELECTOR
from common.runtime import install_loop


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def add_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """Register `audit` with the `vantage` command."""
    p = sub.add_parser("audit", help="launch-readiness report for a domain; exit 1 on blockers")
    p.add_argument("domain", help="the apex domain, e.g. example.com")
    p.add_argument(
        "--subdomains",
        type=_names,
        default=(),
        metavar="A,B",
        help="hosts that serve the launch besides www",
    )
    p.add_argument(
        "--stale",
        type=_names,
        default=(),
        metavar="A,B",
        help="old environment names that must not resolve",
    )
    p.add_argument(
        "--dkim-selectors",
        type=_names,
        default=(),
        metavar="S,T",
        help="DKIM selectors to check (common ones are tried too)",
    )
    p.add_argument(
        "--routes",
        type=_names,
        default=("/",),
        metavar="/,/login",
        help="paths to sample for latency",
    )
    p.add_argument(
        "--samples", type=int, default=20, help="sequential requests per route (default 20)"
    )
    p.add_argument("--format", choices=sorted(RENDERERS), default="text")
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="write the report here instead of stdout"
    )
    p.add_argument(
        "--write-checks", type=Path, metavar="FILE", help="write a checks.yaml that keeps watching"
    )
    p.add_argument(
        "--repo", type=Path, metavar="DIR", help="scan this git repository for secrets too"
    )
    p.add_argument(
        "--dns-server", metavar="IP[:PORT]", help="ask this DNS server instead of the system's"
    )
    p.add_argument(
        "--connect-to", action="append", default=[], metavar="HOST:PORT:ADDR:PORT", help="as curl's"
    )
    p.add_argument("--ca-file", metavar="PEM", help="trust this CA bundle for TLS checks")
    p.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="per request (default 10)"
    )


def options(args: argparse.Namespace) -> Options:
    """Options from the parsed flags; ValueError with a message for a user."""
    domain = validate_dns_name(_ascii(args.domain.strip().lower().removesuffix(".")), "domain")
    if not 1 <= args.samples <= 1000:
        raise ValueError(f"--samples {args.samples}: use 1 to 1000")
    if not 0 < args.timeout <= 300:
        raise ValueError(f"--timeout {args.timeout:g}: use more than 0 and at most 300 seconds")
    if args.repo is not None and not args.repo.is_dir():
        raise ValueError(f"--repo {args.repo}: not a directory")
    if args.ca_file is not None and not Path(args.ca_file).is_file():
        raise ValueError(f"--ca-file {args.ca_file}: no such file")
    for flag, path in (("--out", args.out), ("--write-checks", args.write_checks)):
        if path is not None and not path.parent.is_dir():
            raise ValueError(f"{flag} {path}: no folder {path.parent}")
    for name in (*args.subdomains, *args.stale):
        validate_dns_name(f"{name}.{domain}", "subdomain")
    for selector in args.dkim_selectors:
        if not DKIM_SELECTOR.match(selector):
            raise ValueError(f"--dkim-selectors: bad selector {selector!r}")
    return Options(
        domain=domain,
        subdomains=args.subdomains,
        stale=args.stale,
        dkim_selectors=args.dkim_selectors,
        routes=args.routes or ("/",),
        samples=args.samples,
        overrides=Overrides.parse(args.connect_to, args.dns_server),
        dns_server=args.dns_server,
        ca_file=args.ca_file,
        repo=args.repo,
        timeout=args.timeout,
    )


def _ascii(domain: str) -> str:
    """An internationalised name in its DNS form (`bücher.example` ->
    `xn--bcher-kva.example`); an ASCII name as it is."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain  # the validator names the problem


class Progress:
    """A one-line counter on stderr, only on a terminal."""

    def __init__(self) -> None:
        self.done = 0
        self.started = self.drawn = time.monotonic()
        self.shown = sys.stderr.isatty()

    def __call__(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.shown and now - self.drawn >= 0.1:  # ten redraws a second are enough
            self.drawn = now
            elapsed = now - self.started
            print(
                f"\r  auditing: {self.done} probes, {elapsed:.1f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        """Clear the line."""
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """The subcommand: 0 ship, 1 fix first, 2 usage error."""
    try:
        opts = options(args)
    except ValueError as exc:
        print(f"vantage audit: {exc}", file=sys.stderr)
        return 2
    install_loop()
    progress = Progress()
    try:
        report, facts = asyncio.run(audit(opts, progress))
    finally:
        progress.close()
    document = RENDERERS[args.format](report)
    if args.out is not None:
        args.out.write_text(document, encoding="utf-8")
        print(f"{args.out}: {headline(report)}")
    else:
        sys.stdout.write(document)
    if args.write_checks is not None:
        try:
            count = write_checks(facts, report, args.write_checks)
        except (OSError, ConfigError) as exc:
            print(f"vantage audit: cannot write {args.write_checks}: {exc}", file=sys.stderr)
            return 2
        print(f"{args.write_checks}: {count} checks", file=sys.stderr)
    return report.exit_code
