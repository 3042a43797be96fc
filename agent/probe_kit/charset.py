"""Which codec decodes a response body, as a browser decides (WHATWG
Encoding and HTML "determining the character encoding"), so that a body
assertion searches the text a user sees:

1. a byte order mark wins (UTF-8, UTF-16 LE/BE), whatever the header says;
2. else the Content-Type charset;
3. else a `<meta charset>` or `<meta http-equiv=Content-Type>` in the first
   1024 bytes, or an XML declaration's `encoding` (XML 1.0 §4.3.3);
4. else UTF-8.

Labels map as browsers map them: `iso-8859-1`, `latin1` and `us-ascii` mean
windows-1252 (a `0x80` in such a body is `€` to every browser), and a
`<meta>` that claims UTF-16 means UTF-8 (a document it could be read from
is ASCII-compatible, so it is not UTF-16). Pure: no I/O.
"""

from __future__ import annotations

import codecs
import contextlib
import re

PRESCAN_BYTES = 1024
"""How far into the body a `<meta>` charset is looked for (WHATWG)."""

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),  # Python's utf-16 reads the BOM and drops it
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED = re.compile(
    rb"<meta\s[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)"
    rb"|^\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)",
    re.IGNORECASE,
)
# WHATWG's windows-1252 labels that Python maps to latin-1 or ascii, which
# read 0x80-0x9f as control characters instead of the letters browsers show.
_WINDOWS_1252 = frozenset({"iso8859-1", "ascii"})


def codec(header_charset: str | None, prefix: bytes) -> str:
    """The Python codec for a body that starts with `prefix` (its first
    `PRESCAN_BYTES` bytes, or all of it when shorter) and whose
    Content-Type named `header_charset` (None when it named none)."""
    for bom, bom_codec in _BOMS:
        if prefix.startswith(bom):
            return bom_codec
    if header_charset:
        return _label(header_charset) or "utf-8"
    match = _DECLARED.search(prefix[:PRESCAN_BYTES])
    if match:
        name = _label((match.group(1) or match.group(2)).decode("ascii"))
        return "utf-8" if name is None or name.startswith("utf-16") else name
    return "utf-8"


def _label(label: str) -> str | None:
    """The codec a charset label names, None for one Python does not know."""
    with contextlib.suppress(LookupError):
        name = codecs.lookup(label.strip().strip("\"'")).name
        return "cp1252" if name in _WINDOWS_1252 else name
    return None
