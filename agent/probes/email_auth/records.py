"""What the SPF, DMARC and DKIM rules share: the lookup they are given,
the error a record that does not parse raises, and the finding they report.

No I/O here: the rules take the DNS lookup as a function, so every rule is
testable with a dict of records.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Lookup = Callable[[str, str], Awaitable[list[str]]]
"""`lookup(name, rdtype)`: the answers as text (TXT strings joined, since
long records are split into 255-byte strings); [] when the name or the type
does not exist (a *void* lookup in RFC 7208's words). Raises on DNS errors."""

_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class RecordError(ValueError):
    """A record does not parse; the message says why."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong: the rule it breaks (`spf.void_lookup_limit`) and why."""

    rule: str
    message: str


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
