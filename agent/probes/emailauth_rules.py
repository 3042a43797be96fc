"""Pure parsing and linting of SPF (RFC 7208), DMARC (RFC 7489) and DKIM key
(RFC 6376) records. No I/O: the SPF walk takes the TXT lookup as a function,
so every rule is testable with a dict of fake records.

Parsers raise `RecordError` with a message fit for an assertion.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

TxtLookup = Callable[[str], Awaitable[list[str]]]
"""Returns the TXT records at a name, each with its strings joined; [] when
the name or the records do not exist. Raises on DNS errors."""

SPF_ALL_ORDER = ("-all", "~all", "?all", "+all")
"""`all` qualifiers, strictest first."""
DMARC_POLICY_ORDER = ("none", "quarantine", "reject")
"""DMARC policies, laxest first."""
LOOKUP_LIMIT = 10
"""RFC 7208 §4.6.4: at most 10 terms that cost a DNS lookup."""

_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_NEEDS_DOMAIN = frozenset({"include", "exists"})
# Plus the redirect modifier, counted where it is followed.
_LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_ONCE_MODIFIERS = ("redirect", "exp")
# Counting stops here: past it the record is far over the limit anyway, and
# an include loop must not walk forever.
_WALK_CAP = 50
_MODIFIER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_CIDR = re.compile(r"^(?:/(\d{1,2}))?(?://(\d{1,3}))?$")
_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class RecordError(ValueError):
    """A record does not parse; the message says why."""


@dataclass(frozen=True)
class SpfTerm:
    """One SPF term: a mechanism (`qualifier` one of +-~?) or a modifier
    (`qualifier` empty, `value` after the `=`)."""

    name: str
    value: str = ""
    qualifier: str = "+"
    modifier: bool = False


@dataclass(frozen=True)
class Spf:
    """A parsed `v=spf1` record."""

    terms: tuple[SpfTerm, ...]

    def modifier(self, name: str) -> str | None:
        """The value of modifier `name`, if set."""
        return next((t.value for t in self.terms if t.modifier and t.name == name), None)

    def all_qualifier(self) -> str | None:
        """`-all`, `~all`, `?all` or `+all` as written; None without `all`."""
        term = next((t for t in self.terms if not t.modifier and t.name == "all"), None)
        return None if term is None else term.qualifier + "all"


def is_spf(text: str) -> bool:
    """Whether a TXT record claims to be SPF (RFC 7208 §4.5)."""
    return text.lower() == "v=spf1" or text.lower().startswith("v=spf1 ")


def parse_spf(text: str) -> Spf:
    """Parse an SPF record; raises RecordError naming the first bad term."""
    words = text.split()
    if not words or words[0].lower() != "v=spf1":
        raise RecordError("does not start with v=spf1")
    terms = tuple(_term(word) for word in words[1:])
    for name in _ONCE_MODIFIERS:
        if sum(t.modifier and t.name == name for t in terms) > 1:
            raise RecordError(f"{name}= appears more than once")
    return Spf(terms)


def _term(word: str) -> SpfTerm:
    cut = re.search(r"[:/=]", word)
    if cut and cut.group() == "=":
        return _modifier(word[: cut.start()], word[cut.end() :])
    qualifier = word[0] if word[0] in "+-~?" else "+"
    body = word[1:] if word[0] in "+-~?" else word
    name = re.split(r"[:/]", body, maxsplit=1)[0].lower()
    if name not in _MECHANISMS:
        raise RecordError(f"unknown mechanism {word!r}")
    rest = body[len(name) :]
    _check_argument(word, name, rest)
    return SpfTerm(name, rest.removeprefix(":"), qualifier)


def _modifier(name: str, value: str) -> SpfTerm:
    # Unknown modifiers are legal and ignored (RFC 7208 §6); only the name
    # must be well formed, and the two known ones need a value.
    if not _MODIFIER_NAME.match(name):
        raise RecordError(f"bad modifier name {name!r}")
    if name.lower() in _ONCE_MODIFIERS and not value:
        raise RecordError(f"{name}= needs a domain")
    return SpfTerm(name.lower(), value, "", modifier=True)


def _check_argument(word: str, name: str, rest: str) -> None:
    if name == "all" and rest:
        raise RecordError(f"{word!r}: all takes no argument")
    if name in _NEEDS_DOMAIN and len(rest) < 2:
        raise RecordError(f"{word!r}: {name} needs :domain")
    if name in ("ip4", "ip6"):
        _check_network(word, name, rest.removeprefix(":"))
    if name in ("a", "mx", "ptr"):
        _check_domain_cidr(word, rest)


def _check_domain_cidr(word: str, rest: str) -> None:
    """`a`, `mx`: optional `:domain`, then optional `/v4-len` and `//v6-len`."""
    domain, _, cidr = rest.removeprefix(":").partition("/")
    match = _CIDR.match("/" + cidr if cidr else "")
    v4, v6 = (int(match.group(1) or 0), int(match.group(2) or 0)) if match else (99, 999)
    if (rest.startswith(":") and not domain) or v4 > 32 or v6 > 128:
        raise RecordError(f"{word!r}: bad domain or prefix length")


def _check_network(word: str, name: str, value: str) -> None:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise RecordError(f"{word!r}: not an IP network") from None
    if network.version != (4 if name == "ip4" else 6):
        raise RecordError(f"{word!r}: not an IPv{name[-1]} network")


def all_at_least(got: str, want: str) -> bool:
    """Whether `all` qualifier `got` is at least as strict as `want`."""
    return SPF_ALL_ORDER.index(got) <= SPF_ALL_ORDER.index(want)


@dataclass
class SpfWalk:
    """What following includes and redirects found: the lookup count, the
    effective `all` and any problem with a referenced record."""

    lookups: int = 0
    all_qualifier: str = "?all"
    problems: list[str] = field(default_factory=list)


async def walk_spf(domain: str, spf: Spf, lookup: TxtLookup) -> SpfWalk:
    """Count DNS-lookup terms through includes and redirects (RFC 7208
    §4.6.4) and find the effective `all` (§6.1: `redirect` is ignored when
    `all` is present; no `all` and no redirect is neutral, `?all`)."""
    walk = SpfWalk()
    walk.all_qualifier = await _walk(spf, lookup, walk, (domain.lower(),))
    return walk


async def _walk(spf: Spf, lookup: TxtLookup, walk: SpfWalk, chain: tuple[str, ...]) -> str:
    # Every lookup term counts, matched or not: the limit applies to the
    # worst case a receiver may have to evaluate.
    for term in spf.terms:
        if not term.modifier and term.name in _LOOKUP_MECHANISMS:
            walk.lookups += 1
            if term.name == "include":
                await _follow(term.value, lookup, walk, chain)
    own_all, redirect = spf.all_qualifier(), spf.modifier("redirect")
    if own_all is not None or redirect is None:
        return own_all or "?all"
    walk.lookups += 1
    return await _follow(redirect, lookup, walk, chain)


async def _follow(target: str, lookup: TxtLookup, walk: SpfWalk, chain: tuple[str, ...]) -> str:
    """Walk the record at an include or redirect target; its effective all."""
    if "%" in target or walk.lookups > _WALK_CAP:
        return "?all"  # a macro names no fixed record; past the cap, stop
    if target.lower() in chain:
        walk.problems.append(f"loop: {' -> '.join((*chain, target))}")
        return "?all"
    records = [text for text in await lookup(target) if is_spf(text)]
    if len(records) != 1:
        walk.problems.append(f"{target}: {len(records)} SPF records, want 1")
        return "?all"
    try:
        spf = parse_spf(records[0])
    except RecordError as exc:
        walk.problems.append(f"{target}: {exc}")
        return "?all"
    return await _walk(spf, lookup, walk, (*chain, target.lower()))


def is_dmarc(text: str) -> bool:
    """Whether a TXT record at `_dmarc.` looks like a DMARC record at all."""
    return text.replace(" ", "").lower().startswith("v=dmarc")


def parse_tags(text: str) -> dict[str, str]:
    """Parse a `tag=value; tag=value` list (RFC 6376 §3.2, used by DMARC)."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue  # a trailing `;` is allowed
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals or not _TAG_NAME.match(name):
            raise RecordError(f"bad tag {part.strip()!r}: write name=value")
        if name in tags:
            raise RecordError(f"tag {name}= appears twice")
        tags[name] = value.strip()
    return tags


def parse_dmarc(text: str) -> dict[str, str]:
    """Parse a DMARC record: v=DMARC1 first, then a valid p=."""
    tags = parse_tags(text)
    if next(iter(tags.items()), None) != ("v", "DMARC1"):
        raise RecordError("v=DMARC1 must be the first tag")
    policy = tags.get("p")
    if policy is None:
        raise RecordError("no p= tag")
    if policy.lower() not in DMARC_POLICY_ORDER:
        raise RecordError(f"p={policy}: use none, quarantine or reject")
    return tags


def policy_at_least(got: str, want: str) -> bool:
    """Whether DMARC policy `got` is at least as strict as `want`."""
    return DMARC_POLICY_ORDER.index(got.lower()) >= DMARC_POLICY_ORDER.index(want)


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
