"""The image's HEALTHCHECK: `python -m common.healthcheck` asks /readyz of
the Vantage process running in this container, collector or agent, and
exits 0 when it is ready.

The process and its HTTP address are read from the process table (its
`--http-listen` flag), then its environment variable, then the default, so
one image serves both processes without a per-service healthcheck.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

from common.addresses import listen_address

_PROCESSES = {
    # process marker in argv: (its HTTP listen variable, default port)
    "collector": ("VANTAGE_COLLECTOR_HTTP_LISTEN", 9791),
    "agent": ("VANTAGE_AGENT_HTTP_LISTEN", 9792),
}


def _kind(argv: Sequence[str]) -> str | None:
    """`collector` or `agent` when argv starts one of them."""
    for arg in argv[:3]:
        for kind in _PROCESSES:
            if arg.endswith(f"vantage-{kind}") or arg == kind:
                return kind
    return None


def readyz_url(argv: Sequence[str], env: dict[str, str]) -> str | None:
    """The /readyz URL of the process started by `argv`, or None if it is
    not a Vantage process."""
    kind = _kind(argv)
    if kind is None:
        return None
    variable, port = _PROCESSES[kind]
    address = env.get(variable) or f"127.0.0.1:{port}"
    for i, arg in enumerate(argv):
        if arg == "--http-listen" and i + 1 < len(argv):
            address = argv[i + 1]
        elif arg.startswith("--http-listen="):
            address = arg.partition("=")[2]
    host, port = listen_address(address)
    host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/readyz"


def _processes() -> Iterable[list[str]]:
    for cmdline in sorted(Path("/proc").glob("[0-9]*/cmdline")):
        try:
            yield [a for a in cmdline.read_bytes().decode(errors="replace").split("\0") if a]
        except OSError:
            continue


def main() -> int:
    """0 when the container's Vantage process answers /readyz with 200."""
    for argv in _processes():
        url = readyz_url(argv, dict(os.environ))
        if url is None:
            continue
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  # loopback
                return 0 if response.status == 200 else 1
        except OSError as exc:
            print(f"{url}: {exc}", file=sys.stderr)
            return 1
    print("no vantage-collector or vantage-agent process found", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
