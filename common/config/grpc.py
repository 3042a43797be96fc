"""The `grpc` check type: the standard `grpc.health.v1.Health/Check` call
against `host:port`, optionally over TLS and for a named service."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator, model_validator

from common.config.base import CheckBase
from common.config.tls import check_host, host_port

_SERVICE = re.compile(r"^[A-Za-z0-9_.\-/]*$")


class GrpcCheck(CheckBase):
    """A gRPC health check; passes when the server answers SERVING."""

    type: Literal["grpc"] = "grpc"
    target: str
    service: str = ""
    """The service to ask about; empty asks about the server as a whole."""
    tls: bool = False
    server_name: str | None = None
    ca_file: str | None = None

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        return host_port(value, "api.example.com:443")

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if not _SERVICE.match(value):
            raise ValueError(f"bad service {value!r}: a gRPC service name like pkg.Service")
        return value

    @field_validator("server_name")
    @classmethod
    def _server_name(cls, value: str | None) -> str | None:
        return None if value is None else check_host(value, "server_name")

    @model_validator(mode="after")
    def _tls_settings(self) -> GrpcCheck:
        if not self.tls and (self.server_name or self.ca_file):
            raise ValueError("server_name and ca_file need tls: true")
        return self
