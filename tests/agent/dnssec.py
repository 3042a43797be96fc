"""A DNSSEC chain on loopback: knotd signs `signed.test` itself
(`dnssec-signing: on`) and serves `plain.test` unsigned and a reverse zone
for PTR; unbound, trusting `signed.test`'s key, validates in front of it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import pytest

from tests.agent.knot import _config, _zone_file
from tests.support.binaries import require_binary
from tests.support.net import free_port, wait_for

ZONES = {
    "signed.test": ["www A 192.0.2.10"],
    "plain.test": ["www A 192.0.2.20"],
    "113.0.203.in-addr.arpa": ["10 PTR www.probe.test.", "11 PTR www.probe.test."],
}


@dataclass(frozen=True)
class Dnssec:
    """`knot` is the authoritative `host:port`, `resolver` unbound's."""

    knot: str
    resolver: str


def _unbound_conf(tmp: Path, port: int, knot_port: int, anchors: list[str]) -> str:
    trust = "\n".join(f'    trust-anchor: "{anchor}"' for anchor in anchors)
    stubs = "\n".join(
        f'stub-zone:\n    name: "{name}"\n    stub-addr: 127.0.0.1@{knot_port}' for name in ZONES
    )
    return f"""\
server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{tmp}"
    pidfile: "{tmp}/unbound.pid"
    do-not-query-localhost: no
    outgoing-interface: 127.0.0.1
    access-control: 127.0.0.0/8 allow
    module-config: "validator iterator"
    root-hints: ""
    # unbound answers the special-use test. and TEST-NET names itself
    local-zone: "test." nodefault
    local-zone: "113.0.203.in-addr.arpa." nodefault
{trust}
{stubs}
"""


def _dnskeys(port: int) -> list[str]:
    query = dns.message.make_query("signed.test.", "DNSKEY")
    try:
        response = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
    except dns.exception.Timeout:
        return []
    return [
        f"signed.test. DNSKEY {rdata.to_text()}"
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.DNSKEY
        for rdata in rrset
    ]


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def dnssec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnssec]:
    """knotd signing `signed.test`, and unbound validating with its key."""
    knotd = require_binary("knotd", "knot")
    unbound = require_binary("unbound", "unbound")
    tmp = tmp_path_factory.mktemp("dnssec")
    (tmp / "zones").mkdir()
    (tmp / "db").mkdir()  # signing keeps its keys there
    for origin, records in ZONES.items():
        (tmp / "zones" / f"{origin}.zone").write_text(_zone_file(origin, records))
    knot_port, port = free_port(), free_port()
    (tmp / "knot.conf").write_text(_config(tmp, knot_port, ZONES, signed={"signed.test"}))
    procs = [_start([knotd, "-c", str(tmp / "knot.conf")], tmp / "knot.log")]
    try:
        anchors = wait_for(lambda: _dnskeys(knot_port), 10, "knotd signing signed.test", 0.05)
        (tmp / "unbound.conf").write_text(_unbound_conf(tmp, port, knot_port, anchors))
        procs.append(_start([unbound, "-d", "-c", str(tmp / "unbound.conf")], tmp / "unbound.log"))
        wait_for(lambda: _answers(port), 10, "unbound answering", 0.05)
        yield Dnssec(f"127.0.0.1:{knot_port}", f"127.0.0.1:{port}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def _answers(port: int) -> bool:
    query = dns.message.make_query("www.plain.test.", "A")
    try:
        return bool(dns.query.udp(query, "127.0.0.1", port=port, timeout=0.3).answer)
    except dns.exception.Timeout:
        return False
