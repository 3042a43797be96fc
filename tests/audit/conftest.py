"""The audit masks and registers every secret it reads with the process-wide
redactor; forget them after each test so no other test's output is scrubbed
by what an audit test planted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.redaction import forget_all


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    forget_all()
