"""Host and port parsing: config values and listen flags."""

from __future__ import annotations

import pytest

from common.addresses import listen_address, split_host_port


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("ns1.example.com", ("ns1.example.com", 53)),
        ("[2001:db8::1]:5353", ("2001:db8::1", 5353)),
        ("2001:db8::1", ("2001:db8::1", 53)),  # a bare IPv6 address keeps the default port
    ],
)
def test_split_host_port(value: str, want: tuple[str, int]) -> None:
    assert split_host_port(value, 53) == want


@pytest.mark.parametrize("value", ["", "host:0", "host:70000", "[::1", "a:b:c:"])
def test_split_host_port_rejects(value: str) -> None:
    with pytest.raises(ValueError, match=r"write host:port, e\.g\. 127\.0\.0\.1:53"):
        split_host_port(value, 53)


@pytest.mark.parametrize(
    ("address", "want"),
    [
        ("127.0.0.1:9790", ("127.0.0.1", 9790)),
        (":9791", ("127.0.0.1", 9791)),
        ("[::1]:9792", ("::1", 9792)),
    ],
)
def test_listen_address(address: str, want: tuple[str, int]) -> None:
    assert listen_address(address) == want


@pytest.mark.parametrize("address", ["127.0.0.1", "host:0", "host:65536", "host:http"])
def test_listen_address_rejects(address: str) -> None:
    with pytest.raises(ValueError, match="want host:port"):
        listen_address(address)
