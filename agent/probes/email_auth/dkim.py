"""DKIM key records (RFC 6376 §3.6.1): parse one and load its key."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from agent.probes.email_auth.records import RecordError, parse_tags


@dataclass(frozen=True)
class DkimKey:
    """A DKIM public key's type (`rsa` or `ed25519`) and size in bits."""

    key_type: str
    bits: int


def parse_dkim_key(text: str) -> DkimKey:
    """Parse a DKIM key record and load its key; raises RecordError."""
    tags = parse_tags(text)
    if "v" in tags and (next(iter(tags)) != "v" or tags["v"] != "DKIM1"):
        raise RecordError("v= must be DKIM1 and the first tag")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in ("rsa", "ed25519"):
        raise RecordError(f"k={key_type}: use rsa or ed25519")
    if "p" not in tags:
        raise RecordError("no p= tag")
    data = "".join(tags["p"].split())  # the value may be folded
    if not data:
        raise RecordError("empty p=: the key is revoked")
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error:
        raise RecordError("p= is not valid base64") from None
    return DkimKey(key_type, _key_bits(key_type, raw))


def _key_bits(key_type: str, raw: bytes) -> int:
    if key_type == "ed25519":
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise RecordError("p= is not a 32-byte ed25519 key") from None
        return 256
    try:
        key = load_der_public_key(raw)
    except ValueError:
        key = None
    if not isinstance(key, rsa.RSAPublicKey):
        raise RecordError("p= is not an RSA SubjectPublicKeyInfo")
    return key.key_size
