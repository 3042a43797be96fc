"""The fault-injection suite. The rig's assertions are rewritten like a
test's, so a failed count shows what differed."""

import pytest

pytest.register_assert_rewrite("tests.faults.rig")
