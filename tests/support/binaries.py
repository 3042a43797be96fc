"""Find Debian binaries the tests and benchmarks start; tests skip without
them, and fail instead under CI=true."""

from __future__ import annotations

import os
import shutil

import pytest

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_binary(name: str) -> str | None:
    """Path of an installed binary, looking in the sbin dirs too."""
    return shutil.which(name) or next(
        (f"{d}/{name}" for d in _SBIN if os.access(f"{d}/{name}", os.X_OK)), None
    )


def require_binary(name: str, package: str) -> str:
    """Path of `name`; skip (or fail when CI=true) naming the package."""
    path = find_binary(name)
    if path:
        return path
    message = f"{name} is not installed: apt-get install {package}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: real components are required)")
    pytest.skip(message)
