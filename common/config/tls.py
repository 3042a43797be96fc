"""The `tls` check type: a handshake against `host:port`, with certificate
and protocol expectations."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from common.addresses import split_host_port
from common.config.base import CheckBase, Model, shared
from common.config.dns import validate_dns_name

TLS_VERSIONS: tuple[str, ...] = ("TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3")
TlsVersion = Literal["TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"]
StartTls = Literal["smtp", "imap", "pop3"]
"""Protocols whose STARTTLS dialogue the tls and tcp probes speak."""


def check_host(host: str, what: str) -> str:
    """An IP address as is, or a valid DNS name; ValueError naming `what`."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return validate_dns_name(host, what)
    return host


def host_port(value: str, example: str) -> str:
    """`value` if it is `host:port` with the port written and a valid host;
    ValueError showing `example` otherwise."""
    try:
        host, port = split_host_port(value, 0)  # port 0 is refused: the port is required
    except ValueError:
        raise ValueError(f"bad target {value!r}: write host:port, e.g. {example}") from None
    if port == 0:  # a bare IPv6 address: its last group is no port
        head, _, last = host.rpartition(":")
        hint = f"[{head}]:{last}" if last.isdigit() and head.strip(":") else f"[{host}]:443"
        raise ValueError(f"bad target {value!r}: an IPv6 address goes in brackets, e.g. {hint}")
    check_host(host, "target host")
    return value


class TlsExpect(Model):
    """What a good handshake looks like."""

    min_days_valid: float = Field(default=14, ge=0)
    min_version: TlsVersion = "TLS1.2"

    @field_validator("min_version", mode="before")
    @classmethod
    def _version(cls, value: object) -> str:
        # Accept the spellings people paste from openssl output.
        text = str(value).upper().replace("V", "").replace(" ", "")
        text = {"TLS1": "TLS1.0"}.get(text, text)
        if text not in TLS_VERSIONS:
            raise ValueError(f"bad min_version {value!r}: use one of {', '.join(TLS_VERSIONS)}")
        return text


class TlsCheck(CheckBase):
    """A TLS handshake that verifies chain, hostname, expiry and version."""

    type: Literal["tls"] = "tls"
    target: str
    server_name: str | None = None
    ca_file: str | None = None
    starttls: StartTls | None = None
    expect: TlsExpect = Field(default_factory=shared(TlsExpect))

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        host, _ = split_host_port(value, 443)
        check_host(host, "target host")
        return value

    @field_validator("server_name")
    @classmethod
    def _server_name(cls, value: str | None) -> str | None:
        return None if value is None else check_host(value, "server_name")

    @property
    def address(self) -> tuple[str, int]:
        """The host and port to connect to (port 443 when not written)."""
        return split_host_port(self.target, 443)

    @property
    def sni(self) -> str:
        """The name sent as SNI and checked against the certificate."""
        return self.server_name or self.address[0]
