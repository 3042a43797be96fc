"""SPF (RFC 7208): parse a record, then walk it as a receiver would for a
sender it does not know, without sending any mail.

The walk follows `include` and `redirect`, counts the terms that cost a DNS
lookup (§4.6.4: at most 10) and the lookups that find nothing (§4.6.4: at
most 2 *void* lookups), checks macro syntax (§7.1) and finds the result a
stranger (an IPv4 host named nowhere) gets: the qualifier of the first term
that matches every host, be it `all`, an `include` whose record passes
everyone, `exists` on a name that resolves, or a network like
`ip4:0.0.0.0/0`.

Networks wider than `WIDEST` are findings of their own. No RFC bounds them,
but an `ip4:` /8 lets a whole provider's customers send as you.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from agent.probes.email_auth.records import Finding, Lookup, RecordError

SPF_ALL_ORDER = ("-all", "~all", "?all", "+all")
"""`all` qualifiers, strictest first."""
LOOKUP_LIMIT = 10
"""RFC 7208 §4.6.4: at most 10 terms that cost a DNS lookup."""
VOID_LIMIT = 2
"""RFC 7208 §4.6.4: at most 2 lookups that return no answer or NXDOMAIN."""
MX_LIMIT = 10
"""RFC 7208 §4.6.4: an `mx` term may name at most 10 exchanges."""
WIDEST = {4: 16, 6: 32}
"""IP version -> the shortest prefix an `ip4`/`ip6` network, or an `a`/`mx`
CIDR, may have before it is a finding (`spf.networks`)."""

_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_ONCE_MODIFIERS = ("redirect", "exp")
# Past this many lookups the record is far over the limit anyway, and an
# include loop must not walk forever.
_WALK_CAP = 50
_MODIFIER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_CIDR = re.compile(r"^(.*?)(?:/(\d{1,3}))?(?://(\d{1,3}))?$")
# §7.1: "%{" letter *DIGIT ["r"] *delimiter "}", or "%%", "%_", "%-".
_MACRO = re.compile(r"%(?:\{([A-Za-z])(\d*)[rR]?[.\-+,/_=]*\}|[%_-])")
_MACRO_LETTERS = "slodiphv"  # c, r and t are allowed only in exp text (§7.2)
_TOPLABEL = re.compile(
    r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$"
)


@dataclass(frozen=True)
class SpfTerm:
    """One SPF term: a mechanism (`qualifier` one of +-~?) or a modifier
    (`modifier` set, `domain` holds its value). `domain` is the domain-spec,
    empty when the term names none; `v4`/`v6` are CIDR lengths (for
    `ip4`/`ip6` the network's own prefix), None when not written."""

    name: str
    qualifier: str = "+"
    domain: str = ""
    network: str = ""
    v4: int | None = None
    v6: int | None = None
    modifier: bool = False


@dataclass(frozen=True)
class Spf:
    """A parsed `v=spf1` record."""

    terms: tuple[SpfTerm, ...]

    def modifier(self, name: str) -> str | None:
        """The value of modifier `name`, if set."""
        return next((t.domain for t in self.terms if t.modifier and t.name == name), None)

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
        return _modifier(word, word[: cut.start()], word[cut.end() :])
    qualifier = word[0] if word[0] in "+-~?" else "+"
    body = word[1:] if word[0] in "+-~?" else word
    name = re.split(r"[:/]", body, maxsplit=1)[0].lower()
    if name not in _MECHANISMS:
        raise RecordError(f"unknown mechanism {word!r}")
    rest = body[len(name) :]
    if name == "all":
        if rest:
            raise RecordError(f"{word!r}: all takes no argument")
        return SpfTerm(name, qualifier)
    if name in ("ip4", "ip6"):
        return _network_term(word, name, qualifier, rest.removeprefix(":"))
    return _domain_term(word, name, qualifier, rest)


def _modifier(word: str, name: str, value: str) -> SpfTerm:
    # Unknown modifiers are legal and ignored (RFC 7208 §6); only the name
    # must be well formed, and the two known ones need a valid domain-spec.
    if not _MODIFIER_NAME.match(name):
        raise RecordError(f"bad modifier name {name!r}")
    if name.lower() in _ONCE_MODIFIERS:
        if not value:
            raise RecordError(f"{name}= needs a domain")
        check_domain_spec(word, value)
    return SpfTerm(name.lower(), "", value, modifier=True)


def _network_term(word: str, name: str, qualifier: str, value: str) -> SpfTerm:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise RecordError(f"{word!r}: not an IP network") from None
    if network.version != (4 if name == "ip4" else 6):
        raise RecordError(f"{word!r}: not an IPv{name[-1]} network")
    prefix = network.prefixlen
    if network.version == 4:
        return SpfTerm(name, qualifier, network=str(network), v4=prefix)
    return SpfTerm(name, qualifier, network=str(network), v6=prefix)


def _domain_term(word: str, name: str, qualifier: str, rest: str) -> SpfTerm:
    """`include`/`exists` need `:domain`; `a`, `mx`, `ptr` take an optional
    one, and `a`/`mx` then an optional `/v4-len` and `//v6-len`."""
    match = _CIDR.match(rest)
    assert match is not None  # the pattern matches any text
    spec, v4, v6 = match.group(1), match.group(2), match.group(3)
    has_cidr = v4 is not None or v6 is not None
    if (spec and not spec.startswith(":")) or spec == ":" or (has_cidr and name not in "amx"):
        raise RecordError(f"{word!r}: bad domain or prefix length")
    if name in ("include", "exists") and not spec:
        raise RecordError(f"{word!r}: {name} needs :domain")
    if (v4 and int(v4) > 32) or (v6 and int(v6) > 128):
        raise RecordError(f"{word!r}: bad domain or prefix length")
    domain = spec.removeprefix(":")
    if domain:
        check_domain_spec(word, domain)
    return SpfTerm(
        name,
        qualifier,
        domain,
        v4=None if v4 is None else int(v4),
        v6=None if v6 is None else int(v6),
    )


def check_domain_spec(word: str, spec: str) -> None:
    """RFC 7208 §7.1: macros well formed, and the name ends in a top label
    (a name like `example` or `192.0.2.1` cannot be looked up as meant)."""
    at = 0
    while (at := spec.find("%", at)) >= 0:
        macro = _MACRO.match(spec, at)
        if macro is None:
            raise RecordError(f"{word!r}: bad macro at {spec[at : at + 4]!r}")
        letter, digits = macro.group(1), macro.group(2)
        if letter and letter.lower() not in _MACRO_LETTERS:
            raise RecordError(f"{word!r}: macro letter {letter!r} is not allowed here")
        if digits and int(digits) == 0:
            raise RecordError(f"{word!r}: a macro's digit transformer must not be 0")
        at = macro.end()
    if spec.endswith("}"):
        return
    head, dot, top = spec.rstrip(".").rpartition(".")
    if not dot or not head or not _TOPLABEL.match(top):
        raise RecordError(f"{word!r}: {spec!r} is not a fully qualified domain")


def has_macro(spec: str) -> bool:
    """Whether a domain-spec depends on the message (so it names no fixed
    record that a linter could look up)."""
    return "%" in spec


def all_at_least(got: str, want: str) -> bool:
    """Whether `all` qualifier `got` is at least as strict as `want`."""
    return SPF_ALL_ORDER.index(got) <= SPF_ALL_ORDER.index(want)


@dataclass
class SpfWalk:
    """What walking a record found: the lookup and void-lookup counts, the
    result a stranger gets (as an `all` qualifier; `?all` when nothing
    matches, the neutral default of §4.7) and every problem, one each."""

    lookups: int = 0
    voids: list[str] = field(default_factory=list)
    stranger: str = "?all"
    findings: list[Finding] = field(default_factory=list)


async def walk_spf(domain: str, spf: Spf, lookup: Lookup) -> SpfWalk:
    """Walk `spf`, published at `domain`, through includes and redirects."""
    walker = _Walker(lookup)
    walker.networks(spf)
    result = await walker.record(domain.lower(), spf, (domain.lower(),))
    walk = walker.walk
    walk.stranger = result or "?all"
    return walk


class _Walker:
    """One walk's state; each record is walked by `record`."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.walk = SpfWalk()

    def problem(self, rule: str, message: str) -> None:
        self.walk.findings.append(Finding(rule, message))

    def networks(self, spf: Spf) -> None:
        """A finding per network wider than `WIDEST` in one record."""
        for term in spf.terms:
            for version, prefix in ((4, term.v4), (6, term.v6)):
                if prefix is not None and prefix < WIDEST[version]:
                    shown = term.network or f"{term.name}{':' + term.domain if term.domain else ''}"
                    self.problem(
                        "spf.networks",
                        f"{shown} (/{prefix}) is wider than /{WIDEST[version]}: "
                        f"it lets up to 2^{(32 if version == 4 else 128) - prefix} hosts send",
                    )

    async def record(self, domain: str, spf: Spf, chain: tuple[str, ...]) -> str | None:
        """The result a stranger gets from this record, as `<q>all`; None
        when no term matches (the caller's fall-through)."""
        for term in spf.terms:
            if term.modifier:
                continue
            if term.name == "all":
                return term.qualifier + "all"  # terms after `all` are never evaluated
            if term.name in _LOOKUP_MECHANISMS:
                self.walk.lookups += 1
            if await self.matches_everyone(term, domain, chain):
                return term.qualifier + "all"
        redirect = spf.modifier("redirect")
        if redirect is None:
            return None
        self.walk.lookups += 1
        return await self.follow(redirect, chain, "redirect")

    async def matches_everyone(self, term: SpfTerm, domain: str, chain: tuple[str, ...]) -> bool:
        target = term.domain or domain
        if term.name == "ip4":
            return term.v4 == 0
        if term.name == "include":
            return await self.follow(target, chain, "include") == "+all"
        if term.name not in ("a", "mx", "exists") or has_macro(target) or self.over_cap():
            return False  # ptr, ip6, and names that depend on the message
        if term.name == "mx":
            addresses = await self.mx_addresses(term, target)
        else:
            addresses = await self.addresses(target, "A")
        return bool(addresses) and (term.name == "exists" or term.v4 == 0)

    async def addresses(self, name: str, rdtype: str) -> list[str]:
        found = await self.lookup(name, rdtype)
        if not found:
            self.walk.voids.append(f"{name} {rdtype}")
        return found

    async def mx_addresses(self, term: SpfTerm, target: str) -> list[str]:
        exchanges = [answer.split()[-1] for answer in await self.addresses(target, "MX")]
        if len(exchanges) > MX_LIMIT:
            self.problem(
                "spf.lookup_limit", f"mx:{target} has {len(exchanges)} MX records, limit {MX_LIMIT}"
            )
        found: list[str] = []
        for exchange in sorted(exchanges)[:MX_LIMIT]:
            found += await self.addresses(exchange.rstrip("."), "A")
        return found

    def over_cap(self) -> bool:
        return self.walk.lookups > _WALK_CAP

    async def follow(self, target: str, chain: tuple[str, ...], how: str) -> str | None:
        """Walk the record an include or redirect names; its stranger result.
        A target without exactly one valid record is a permanent error
        (§5.2 for include, §6.1 for redirect)."""
        if has_macro(target) or self.over_cap():
            return None
        if target.lower() in chain:
            self.problem("spf.includes", f"loop: {' -> '.join((*chain, target))}")
            return None
        records = [text for text in await self.addresses(target, "TXT") if is_spf(text)]
        if len(records) != 1:
            self.problem("spf.includes", f"{how}:{target}: {len(records)} SPF records, want 1")
            return None
        try:
            spf = parse_spf(records[0])
        except RecordError as exc:
            self.problem("spf.includes", f"{how}:{target}: {exc}")
            return None
        self.networks(spf)
        return await self.record(target.lower(), spf, (*chain, target.lower()))


def limit_findings(walk: SpfWalk) -> list[Finding]:
    """The lookup and void-lookup limits, as findings (empty when kept)."""
    found = []
    if walk.lookups > LOOKUP_LIMIT:
        found.append(Finding("spf.lookup_limit", f"{walk.lookups} > {LOOKUP_LIMIT}"))
    if len(walk.voids) > VOID_LIMIT:
        names = ", ".join(walk.voids[:5])
        message = f"{len(walk.voids)} lookups found nothing ({names}), limit {VOID_LIMIT}"
        found.append(Finding("spf.void_lookup_limit", message))
    return found
