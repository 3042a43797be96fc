"""One real knotd on loopback serving every test zone, for the dns and
email_auth probe tests.

The zones are written here, once: `probe.test.` for record lookups and
`mail.test.`, where each email-auth case is its own subdomain. DKIM keys are
made at import, so the tests compare against the same values.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.support.binaries import require_binary
from tests.support.net import dns_answers, free_port, wait_for

_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def rsa_spki_b64(bits: int) -> str:
    """Base64 SubjectPublicKeyInfo of an RSA key of `bits` bits.

    cryptography refuses to generate keys under 1024 bits, and a DKIM check
    only reads the modulus size, so small keys get a random odd modulus.
    """
    if bits >= 1024:
        public = rsa.generate_private_key(65537, bits).public_key()
    else:
        modulus = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        public = rsa.RSAPublicNumbers(65537, modulus).public_key()
    return base64.b64encode(public.public_bytes(*_SPKI)).decode()


def ed25519_b64() -> str:
    """Base64 of a raw 32-byte ed25519 public key, as DKIM publishes it."""
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    return base64.b64encode(raw).decode()


def txt(value: str) -> str:
    """A TXT rdata in zone-file syntax, split into 255-byte strings."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join(f'"{chunk}"' for chunk in chunks)


# Long enough to need two strings: real SPF records grow like this.
LONG_SPF = "v=spf1 " + " ".join(f"ip4:198.51.100.{n}" for n in range(1, 20)) + " mx -all"
BIG_TXT_COUNT = 30
"""Records at big.probe.test.: far past the 512-byte UDP limit."""

PROBE_TEST = [
    "www A 203.0.113.10",
    "www A 203.0.113.11",
    "alias CNAME www.probe.test.",
    "@ MX 10 mx1.probe.test.",
    "@ MX 20 mx2.probe.test.",
    "mx1 A 203.0.113.25",
    "mx2 A 203.0.113.26",
    'hello TXT "hello world"',
    *(f"big TXT {txt(f'record-{n:02d}-' + 'x' * 40)}" for n in range(BIG_TXT_COUNT)),
]

_DMARC_OK = txt("v=DMARC1; p=reject; rua=mailto:dmarc@mail.test")
MAIL_TEST = [
    # good: long split SPF with an include, strict DMARC, RSA and ed25519 DKIM
    f"good TXT {txt(LONG_SPF.replace(' mx', ' include:_spf.good.mail.test mx'))}",
    f"_spf.good TXT {txt('v=spf1 ip4:192.0.2.0/24 ~all')}",
    f"_dmarc.good TXT {_DMARC_OK}",
    f"s1._domainkey.good TXT {txt('v=DKIM1; k=rsa; p=' + rsa_spki_b64(2048))}",
    f"s2._domainkey.good TXT {txt('v=DKIM1; k=ed25519; p=' + ed25519_b64())}",
    'good TXT "google-site-verification=abc"',
    # two-spf: two v=spf1 records at one name
    'two-spf TXT "v=spf1 mx -all"',
    'two-spf TXT "v=spf1 a -all"',
    f"_dmarc.two-spf TXT {_DMARC_OK}",
    # deep: 12 lookups through nested includes
    'deep TXT "v=spf1 include:a.deep.mail.test include:b.deep.mail.test mx -all"',
    'a.deep TXT "v=spf1 a mx include:c.deep.mail.test ~all"',
    'b.deep TXT "v=spf1 a mx ptr exists:%{i}.e.deep.mail.test ~all"',
    'c.deep TXT "v=spf1 a mx ~all"',
    f"_dmarc.deep TXT {_DMARC_OK}",
    # no-dmarc: nothing at _dmarc
    'no-dmarc TXT "v=spf1 mx -all"',
    # p-none: monitoring-only DMARC without reports
    'p-none TXT "v=spf1 mx -all"',
    '_dmarc.p-none TXT "v=DMARC1; p=none"',
    # weak-dkim: a 512-bit RSA key
    'weak-dkim TXT "v=spf1 mx -all"',
    f"_dmarc.weak-dkim TXT {_DMARC_OK}",
    f"s1._domainkey.weak-dkim TXT {txt('v=DKIM1; k=rsa; p=' + rsa_spki_b64(512))}",
    # lax: no all and no redirect, which is neutral (?all)
    'lax TXT "v=spf1 mx"',
    f"_dmarc.lax TXT {_DMARC_OK}",
    # redirect: policy and lookups come from good.mail.test
    'redirect TXT "v=spf1 redirect=good.mail.test"',
    f"_dmarc.redirect TXT {_DMARC_OK}",
    # unanswered: its include names a zone no server here answers for
    # (knot refuses it), and its DMARC is monitoring-only
    'unanswered TXT "v=spf1 include:_spf.mail.elsewhere.test -all"',
    '_dmarc.unanswered TXT "v=DMARC1; p=none; rua=mailto:d@mail.test"',
]

ZONES = {"probe.test": PROBE_TEST, "mail.test": MAIL_TEST}


@dataclass(frozen=True)
class Knot:
    """A running knotd; `server` is the `host:port` a check config takes."""

    port: int
    log: Path

    @property
    def server(self) -> str:
        """The `server:` value for checks."""
        return f"127.0.0.1:{self.port}"


def _zone_file(origin: str, records: list[str]) -> str:
    head = [
        f"$ORIGIN {origin}.",
        "$TTL 300",
        f"@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300",
        "@ NS ns",
        "ns A 127.0.0.1",
    ]
    return "\n".join([*head, *records, ""])


def _all_zones() -> dict[str, list[str]]:
    # The email-auth corpus builds on this module's helpers, so it is
    # imported here, once this module is loaded.
    from tests.agent.emailauth_corpus import corpus_zones  # noqa: PLC0415

    return {**ZONES, **corpus_zones()}


def _config(
    tmp: Path, port: int, zones: Mapping[str, list[str]], signed: Collection[str] = ()
) -> str:
    """knotd's config serving `zones`; those in `signed` knotd signs itself."""
    listed = "\n".join(
        f"  - domain: {name}." + ("\n    dnssec-signing: on" if name in signed else "")
        for name in zones
    )
    return f"""\
server:
    rundir: "{tmp}"
    listen: 127.0.0.1@{port}
log:
  - target: stderr
    any: warning
database:
    storage: "{tmp}/db"
template:
  - id: default
    storage: "{tmp}/zones"
    file: "%s.zone"
zone:
{listed}
"""


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, zone: str) -> None:
    def answering() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"knotd exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        return dns_answers(port, f"ns.{zone}.")

    wait_for(answering, 10, "knotd answering", every=0.02)


@contextmanager
def serve_zones(tmp: Path, zones: Mapping[str, list[str]]) -> Iterator[Knot]:
    """Run knotd serving `zones` (origin -> records) from `tmp` until the
    block ends; each zone gets an SOA, and NS ns.<origin> at 127.0.0.1."""
    binary = require_binary("knotd", "knot")
    (tmp / "zones").mkdir(parents=True)
    for origin, records in zones.items():
        (tmp / "zones" / f"{origin}.zone").write_text(_zone_file(origin, records))
    port = free_port()
    (tmp / "knot.conf").write_text(_config(tmp, port, zones))
    log = tmp / "knotd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "-c", str(tmp / "knot.conf")], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(proc, port, log, next(iter(zones)))
        yield Knot(port, log)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def knot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Knot]:
    """One knotd for the whole session, serving `ZONES` and the email-auth
    corpus on a free port."""
    with serve_zones(tmp_path_factory.mktemp("knot"), _all_zones()) as server:
        yield server
