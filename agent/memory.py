"""Give back what start-up used and the agent will not use again.

VmRSS counts every page of a mapped file that the process has touched.
Start-up touches most of the large extension modules (the gRPC core alone
is 12 MB of code, then pydantic-core, OpenSSL, libpython), partly through
the kernel's fault-around, which maps the neighbours of every page it
faults in. Most of that code runs once (static initialisers, module init,
schema building) and never again, yet stays counted: 34 MB of an agent's
RSS were file pages, of which 11-17 MB are used once it runs.

`release_unused_pages()` unmaps this process's view of such pages with
madvise(MADV_DONTNEED). The pages stay in the page cache (shared with other
processes, and reclaimable), and a page that runs again is mapped back by an
ordinary minor fault. Only mappings where that is exact are touched: backed
by a regular file, not writable, and with no private (copied-on-write) or
swapped-out page, so the file holds every byte the mapping shows. It also
asks malloc to return free heap pages (malloc_trim). Linux only and best
effort: elsewhere, or on any error, it does nothing.
"""

from __future__ import annotations

import ctypes
import re
import sys
from dataclasses import dataclass
from pathlib import Path

_MADV_DONTNEED = 4
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$")
_SIZES = {"Rss:": "rss_kb", "Anonymous:": "anonymous_kb", "Swap:": "swap_kb"}


@dataclass
class Mapping:
    """One entry of /proc/<pid>/smaps, with the sizes that matter here."""

    start: int
    end: int
    perms: str
    path: str
    rss_kb: int = 0
    anonymous_kb: int = 0
    swap_kb: int = 0

    @property
    def releasable(self) -> bool:
        """Whether dropping the resident pages loses nothing: the file has
        every byte of a mapping nobody can write and nobody has written."""
        regular = self.path.startswith("/") and not self.path.startswith("/dev/")
        return (
            regular
            and not self.path.endswith("(deleted)")
            and "w" not in self.perms
            and self.anonymous_kb == 0
            and self.swap_kb == 0
            and self.rss_kb > 0
        )


def parse_smaps(text: str) -> list[Mapping]:
    """The mappings of an smaps file, in order."""
    mappings: list[Mapping] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            start, end, perms, path = header.groups()
            mappings.append(Mapping(int(start, 16), int(end, 16), perms, path.strip()))
            continue
        key, _, rest = line.partition(" ")
        if key in _SIZES and mappings:
            setattr(mappings[-1], _SIZES[key], int(rest.split()[0]))
    return mappings


def release_unused_pages(smaps: Path = Path("/proc/self/smaps")) -> int:
    """Return free heap pages to the system, and drop this process's
    resident pages of clean, read-only file mappings; returns how many bytes
    of file pages that released (0 when not on Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        mappings = parse_smaps(smaps.read_text())
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    malloc_trim = getattr(libc, "malloc_trim", None)  # glibc only
    if malloc_trim is not None:
        malloc_trim(0)
    madvise = libc.madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    released = 0
    # Read and act without yielding: only a debugger, or code that makes its
    # own text writable, could change a mapping in between; the agent has none.
    for m in mappings:
        if m.releasable and madvise(m.start, m.end - m.start, _MADV_DONTNEED) == 0:
            released += m.rss_kb * 1024
    return released
