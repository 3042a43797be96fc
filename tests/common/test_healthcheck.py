"""The image's HEALTHCHECK finds the /readyz of whichever process runs."""

from __future__ import annotations

import pytest

from common.addresses import default_listen
from common.healthcheck import readyz_url

CASES = [
    ("collector-default", ["/opt/vantage/bin/python", "/opt/vantage/bin/vantage-collector"], {},
     "http://127.0.0.1:9791/readyz"),
    ("agent-env", ["/opt/vantage/bin/python", "/opt/vantage/bin/vantage-agent"],
     {"VANTAGE_AGENT_HTTP_LISTEN": "0.0.0.0:19792"}, "http://127.0.0.1:19792/readyz"),
    ("collector-flag-wins", ["python", "/x/vantage-collector", "--http-listen", "127.0.0.2:8000"],
     {"VANTAGE_COLLECTOR_HTTP_LISTEN": "0.0.0.0:1"}, "http://127.0.0.2:8000/readyz"),
    ("flag-equals", ["python", "-m", "agent", "--http-listen=[::1]:9000"], {},
     "http://[::1]:9000/readyz"),
    ("not-vantage", ["/usr/bin/catatonit", "--", "sleep"], {}, None),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "env", "url"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_readyz_url(argv: list[str], env: dict[str, str], url: str | None) -> None:
    assert readyz_url(argv, env) == url


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("1", "0.0.0.0:9791"),
        ("true", "0.0.0.0:9791"),
        ("", "127.0.0.1:9791"),
        ("0", "127.0.0.1:9791"),
    ],
    ids=["one", "true", "unset", "zero"],
)
def test_default_listen_is_all_interfaces_only_in_a_container(
    monkeypatch: pytest.MonkeyPatch, value: str, want: str
) -> None:
    monkeypatch.setenv("VANTAGE_IN_CONTAINER", value)
    assert default_listen(9791) == want
