"""Giving back start-up memory: which mappings may be dropped, and that
dropping them lowers RSS without changing what the process reads."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

from agent.memory import Mapping, parse_smaps, release_unused_pages

SMAPS = """\
7f0000000000-7f0000004000 r--p 00000000 fe:00 42    /usr/lib/libx.so
Size:                 16 kB
Rss:                  12 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd mr mw me
7f0000004000-7f0000006000 rw-p 00000000 00:00 0
Rss:                   8 kB
Anonymous:             8 kB
Swap:                  0 kB
"""


def test_parse_smaps_reads_ranges_permissions_paths_and_sizes() -> None:
    file, anon = parse_smaps(SMAPS)
    assert file == Mapping(0x7F0000000000, 0x7F0000004000, "r--p", "/usr/lib/libx.so", 12, 0, 0)
    assert (anon.perms, anon.path, anon.rss_kb, anon.anonymous_kb) == ("rw-p", "", 8, 8)


@pytest.mark.parametrize(
    ("perms", "path", "anonymous", "swap", "releasable"),
    [
        ("r-xp", "/usr/lib/libx.so", 0, 0, True),
        ("r--p", "/usr/lib/libx.so", 0, 0, True),
        ("r--s", "/data/file", 0, 0, True),
        ("rw-p", "/usr/lib/libx.so", 0, 0, False),
        ("r--p", "/usr/lib/libx.so", 4, 0, False),
        ("r--p", "/usr/lib/libx.so", 0, 4, False),
        ("r--p", "", 0, 0, False),
        ("r-xp", "[vdso]", 0, 0, False),
        ("r--s", "/dev/shm/x", 0, 0, False),
        ("r-xp", "/usr/lib/libx.so (deleted)", 0, 0, False),
    ],
    ids=[
        "code",
        "read-only-data",
        "shared-file",
        "writable",
        "copied-on-write",
        "swapped",
        "anonymous",
        "vdso",
        "device",
        "deleted",
    ],
)
def test_only_mappings_the_file_fully_backs_are_releasable(
    perms: str, path: str, anonymous: int, swap: int, releasable: bool
) -> None:
    mapping = Mapping(0, 4096, perms, path, rss_kb=4, anonymous_kb=anonymous, swap_kb=swap)
    assert mapping.releasable is releasable


def _rss_file_kb() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"RssFile:\s+(\d+)", status)
    assert match is not None
    return int(match.group(1))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and madvise")
def test_release_lowers_file_rss_and_code_still_runs() -> None:
    def digest() -> str:
        return hashlib.sha256(Path(hashlib.__file__).read_bytes()).hexdigest()

    before_digest, before = digest(), _rss_file_kb()
    released = release_unused_pages()
    after = _rss_file_kb()
    assert released > 0
    assert after < before
    assert digest() == before_digest  # the code and data paged back in are the same
