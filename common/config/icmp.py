"""The `icmp` check type: a small burst of echo requests to one host."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from common.config.base import CheckBase, Duration, Model, shared
from common.config.tls import check_host


class IcmpExpect(Model):
    """What a good burst looks like."""

    min_replies: int = Field(default=1, ge=1)
    """Replies needed; the default passes a burst unless every packet is lost."""
    max_rtt: Duration | None = None
    """The slowest reply allowed, if set."""


class IcmpCheck(CheckBase):
    """Ping `target` with `packets` echo requests, `spacing` apart."""

    type: Literal["icmp"] = "icmp"
    target: str
    ip_version: Literal[4, 6, "any"] = "any"
    packets: int = Field(default=3, ge=1, le=10)
    spacing: Duration = 0.1
    expect: IcmpExpect = Field(default_factory=shared(IcmpExpect))

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        return check_host(value, "target")

    @field_validator("spacing")
    @classmethod
    def _spacing(cls, value: float) -> float:
        if not 0.01 <= value <= 1:
            raise ValueError(f"spacing {value:g}s: use 10ms to 1s")
        return value

    @model_validator(mode="after")
    def _replies_possible(self) -> IcmpCheck:
        if self.expect.min_replies > self.packets:
            raise ValueError(
                f"expect.min_replies {self.expect.min_replies} is more than "
                f"packets {self.packets}: it can never pass"
            )
        return self
