"""TLS and DNS probes per CPU-second: ours vs blackbox_exporter.

TLS: every probe is a new TCP connection and a full handshake (nginx has
no session cache and no tickets) against a trustme certificate for
127.0.0.1, verified against its CA; blackbox runs `tls_connect` (tcp prober,
`tls: true`, the same CA). DNS: an A query to a local knotd (dnsmasq if
knot is missing); blackbox runs its `dns` prober. Same concurrency on both
sides; CPU is our worker's and the exporter's, never the servers'.

    python -m bench.tls_dns
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from bench._common import (
    BenchError,
    Procs,
    bench_procs,
    compare_probes,
    main_for,
    make_tls_files,
    probe_sides,
    start_nginx,
    wait_until,
)
from bench._figures import Row, print_sides, versus_row
from tests.support.binaries import find_binary
from tests.support.net import dns_answers, free_port
from tests.support.procs import Proc

NAME = "tls_dns"
CONCURRENCY = 32
TLS_PROBES = 1500
DNS_PROBES = 4000
QNAME = "www.bench.test"
ANSWERS = ("203.0.113.10", "203.0.113.11")


def _tls(procs: Procs) -> Row:
    figure = f"TLS handshakes/CPU-s, c={CONCURRENCY}"
    files = make_tls_files(procs.tmp)
    port = free_port()
    start_nginx(procs, tls=(port, files))
    target = f"127.0.0.1:{port}"
    check = {"name": "bench-tls", "target": target, "ca_file": str(files.ca), "timeout": "5s"}
    tcp = {"tls": True, "preferred_ip_protocol": "ip4", "tls_config": {"ca_file": str(files.ca)}}
    module = ("tls_connect", {"prober": "tcp", "timeout": "5s", "tcp": tcp})
    sides = probe_sides(procs, "tls", check, module, target)
    figures = compare_probes(sides, TLS_PROBES, CONCURRENCY)
    print_sides(f"TLS, concurrency {CONCURRENCY}, {TLS_PROBES} probes per run", "probes", figures)
    return versus_row(NAME, figure, figures, None)


def _dns(procs: Procs, server: tuple[str, Proc, int]) -> Row:
    figure = f"DNS queries/CPU-s, c={CONCURRENCY}"
    kind, _, port = server
    target = f"127.0.0.1:{port}"
    check = {"name": "bench-dns", "query_name": QNAME, "record": "A", "server": target}
    settings = {"query_name": QNAME, "query_type": "A", "preferred_ip_protocol": "ip4"}
    module = ("dns_a", {"prober": "dns", "timeout": "5s", "dns": settings})
    sides = probe_sides(procs, "dns", check, module, target)
    figures = compare_probes(sides, DNS_PROBES, CONCURRENCY)
    title = f"DNS ({kind}), concurrency {CONCURRENCY}, {DNS_PROBES} probes per run"
    print_sides(title, "probes", figures)
    return versus_row(NAME, figure, figures, None)


_ZONE = f"""$ORIGIN bench.test.
$TTL 300
@ SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.1
www A {ANSWERS[0]}
www A {ANSWERS[1]}
"""


def start_dns_server(procs: Procs) -> tuple[str, Proc, int]:
    """knotd serving bench.test (or dnsmasq); (name, process, port) once it answers."""
    port = free_port()
    knotd, dnsmasq = find_binary("knotd"), find_binary("dnsmasq")
    if knotd is not None:
        root = procs.tmp / "knot"
        (root / "zones").mkdir(parents=True)
        (root / "zones" / "bench.test.zone").write_text(_ZONE)
        (root / "knot.conf").write_text(
            f'server:\n    rundir: "{root}"\n    listen: 127.0.0.1@{port}\n'
            f"log:\n  - target: stderr\n    any: warning\n"
            f'database:\n    storage: "{root}/db"\n'
            f'template:\n  - id: default\n    storage: "{root}/zones"\n    file: "%s.zone"\n'
            "zone:\n  - domain: bench.test.\n"
        )
        proc, kind = procs.start("knotd", [knotd, "-c", str(root / "knot.conf")]), "knotd"
    elif dnsmasq is not None:
        conf = procs.tmp / "dnsmasq.conf"
        records = "".join(f"host-record={QNAME},{ip}\n" for ip in ANSWERS)
        conf.write_text(records + "local=/bench.test/\n")
        argv = [dnsmasq, "--keep-in-foreground", f"--port={port}", "--listen-address=127.0.0.1"]
        argv += ["--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file="]
        proc, kind = procs.start("dnsmasq", [*argv, f"--conf-file={conf}"]), "dnsmasq"
    else:
        raise BenchError("no DNS server: install knot (or dnsmasq)")
    _wait_answering(proc, port)
    return kind, proc, port


def _wait_answering(proc: Proc, port: int) -> None:
    wait_until(lambda: proc.alive() and dns_answers(port, QNAME), 10, f"{proc.name} answering")


def _guarded(figure: str, needs: dict[str, str], measure: Callable[[Procs], Row]) -> Row:
    """Run one half. Without any of the `needs` binaries (binary: package),
    or when our probe module cannot run yet, the row says so."""
    if not any(find_binary(binary) for binary in needs):
        packages = " (or ".join(needs.values()) + ")" * (len(needs) - 1)
        print(f"  {figure}: skipped: install {packages}")
        return Row.skipped(NAME, figure, f"install {packages}")
    try:
        with bench_procs(NAME) as procs:
            return measure(procs)
    except (BenchError, subprocess.SubprocessError) as exc:
        print(f"  {figure}: could not run: {exc}")
        return Row.skipped(NAME, figure, f"could not run: {str(exc).splitlines()[0][:80]}")


def run() -> list[Row]:
    """The TLS half, then the DNS half; each is skipped on its own."""
    print(f"== {NAME}: TLS handshakes and DNS queries, vantage vs blackbox_exporter")
    return [
        _guarded("TLS handshakes/CPU-s", {"nginx": "nginx"}, _tls),
        _guarded(
            "DNS queries/CPU-s",
            {"knotd": "knot", "dnsmasq": "dnsmasq"},
            lambda procs: _dns(procs, start_dns_server(procs)),
        ),
    ]


def main() -> None:
    """Run this benchmark alone."""
    main_for(NAME, run)


if __name__ == "__main__":
    main()
