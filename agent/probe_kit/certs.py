"""Certificate facts from a finished handshake, for any probe that speaks
TLS (`tls`, `http` over https, and the like): read them with `read_peer`,
copy them into a result with `record`."""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from vantage.v1 import vantage_pb2 as pb


@dataclass(frozen=True)
class Peer:
    """What one handshake showed: protocol, cipher and the certificate chain
    (leaf first)."""

    version: str
    cipher: str
    chain: tuple[x509.Certificate, ...]


def _chain_der(ssl_object: ssl.SSLObject) -> list[bytes]:
    # Python 3.11 only exposes the leaf publicly. The C object behind it
    # has the chain accessors that 3.13 makes public; prefer the verified
    # chain, since servers may still send an expired cross-signed root
    # that verification skips.
    inner = getattr(ssl_object, "_sslobj", None)
    for name in ("get_verified_chain", "get_unverified_chain"):
        chain = getattr(inner, name, lambda: None)()
        if chain:
            return [ssl.PEM_cert_to_DER_cert(cert.public_bytes()) for cert in chain]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


_CHAINS: dict[bytes, tuple[x509.Certificate, ...]] = {}
"""Parsed chains by leaf certificate: a target sends the same chain on
every probe, and reading and parsing it costs ~50 us."""
_CHAINS_MAX = 1024


def read_peer(ssl_object: ssl.SSLObject) -> Peer:
    """The facts of a finished handshake."""
    cipher = ssl_object.cipher()
    leaf = ssl_object.getpeercert(binary_form=True) or b""
    chain = _CHAINS.get(leaf)
    if chain is None:
        chain = tuple(cert for der in _chain_der(ssl_object) if (cert := _parse(der)))
        if len(_CHAINS) >= _CHAINS_MAX:
            _CHAINS.clear()  # a renewal wave: start over rather than track age
        _CHAINS[leaf] = chain
    return Peer(ssl_object.version() or "", cipher[0] if cipher else "", chain)


def _parse(der: bytes) -> x509.Certificate | None:
    # cryptography is stricter than OpenSSL; a certificate it cannot read
    # costs us its facts, never the probe.
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def record(tls: pb.TlsDetails, peer: Peer) -> None:
    """Copy handshake facts into a result's TlsDetails; the earliest
    not_after of the chain is the one that matters."""
    tls.version, tls.cipher = peer.version, peer.cipher
    if peer.chain:
        tls.MergeFrom(_facts(peer.chain))


@functools.lru_cache(maxsize=1024)
def _facts(chain: tuple[x509.Certificate, ...]) -> pb.TlsDetails:
    """The chain's facts, computed once per chain (names and fingerprints
    cost tens of microseconds); callers merge, never modify, the result."""
    leaf = chain[0]
    return pb.TlsDetails(
        not_after=min(cert.not_valid_after_utc for cert in chain).timestamp(),
        issuer=leaf.issuer.rfc4514_string(),
        subject=leaf.subject.rfc4514_string(),
        sans=_sans(leaf),
        serial=format(leaf.serial_number, "x"),
        sha256_fingerprint=leaf.fingerprint(hashes.SHA256()).hex(),
    )


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    return names.get_values_for_type(x509.DNSName) + ips
