"""Process start-up helpers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.runtime import GC_YOUNG_THRESHOLD, split_hostport


def test_settle_heap_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    code = (
        "import gc; from common.runtime import settle_heap; "
        "before = gc.get_threshold(); settle_heap(); "
        "print(gc.get_freeze_count() > 1000, gc.get_threshold()[0], "
        "gc.get_threshold()[1:] == before[1:])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", str(GC_YOUNG_THRESHOLD), "True"]


@pytest.mark.parametrize(
    ("address", "want"),
    [
        ("127.0.0.1:9790", ("127.0.0.1", 9790)),
        (":9791", ("127.0.0.1", 9791)),
        ("[::1]:9792", ("::1", 9792)),
    ],
)
def test_split_hostport(address: str, want: tuple[str, int]) -> None:
    assert split_hostport(address) == want


@pytest.mark.parametrize("address", ["127.0.0.1", "host:0", "host:65536", "host:http"])
def test_split_hostport_rejects(address: str) -> None:
    with pytest.raises(ValueError, match="want host:port"):
        split_hostport(address)
