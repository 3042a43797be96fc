"""The `tcp` check type: connect to `host:port`, optionally speak TLS
(implicit, or after STARTTLS on a mail port), then run `query_response`
steps the way blackbox_exporter's tcp prober does: `send` a line, or
`expect` a line matching a regex."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from common.addresses import split_host_port
from common.config.base import CheckBase, Model, Regex, shared
from common.config.tls import StartTls, TlsExpect, check_host, host_port


class QueryStep(Model):
    """One step: exactly one of `send` (a line; CRLF is added) or `expect`
    (a regex that the next line read must match)."""

    send: str | None = None
    expect: Regex | None = None

    @model_validator(mode="after")
    def _one(self) -> QueryStep:
        if (self.send is None) == (self.expect is None):
            raise ValueError("write one of send: or expect: per step")
        return self


class TcpCheck(CheckBase):
    """A TCP connection, optionally TLS and a scripted exchange."""

    type: Literal["tcp"] = "tcp"
    target: str
    tls: bool = False
    starttls: StartTls | None = None
    server_name: str | None = None
    ca_file: str | None = None
    query_response: tuple[QueryStep, ...] = ()
    expect: TlsExpect = Field(default_factory=shared(TlsExpect))

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        return host_port(value, "mail.example.com:25")

    @field_validator("server_name")
    @classmethod
    def _server_name(cls, value: str | None) -> str | None:
        return None if value is None else check_host(value, "server_name")

    @model_validator(mode="after")
    def _tls_settings(self) -> TcpCheck:
        if self.tls and self.starttls:
            raise ValueError(
                "tls: true is TLS from the first byte; starttls upgrades a plain "
                "connection: set one of them"
            )
        if not self.secure and (self.server_name or self.ca_file):
            raise ValueError("server_name and ca_file need tls: true or starttls")
        return self

    @property
    def secure(self) -> bool:
        """Whether the connection is upgraded to TLS."""
        return self.tls or self.starttls is not None

    @property
    def address(self) -> tuple[str, int]:
        """The host and port to connect to."""
        return split_host_port(self.target, 0)

    @property
    def sni(self) -> str:
        """The name sent as SNI and checked against the certificate."""
        return self.server_name or self.address[0]
