"""The `agents:` section of the collector's config: one entry per agent
token, bound to an agent name and region, stored as a sha256 digest.

    agents:
      - {name: eu-west-1, region: eu-west, token_sha256: "<64 hex>"}

`vantage token create --name eu-west-1 --region eu-west` makes a token and
prints this line.
"""

from __future__ import annotations

import re

from pydantic import field_validator

from common.config.base import NAME_PATTERN, Model

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class AgentSpec(Model):
    """One agent token: who may report with it."""

    name: str
    region: str
    token_sha256: str

    @field_validator("name", "region")
    @classmethod
    def _label_safe(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                f"{value!r}: use letters, digits, '.', '_' or '-', at most 63 characters"
            )
        return value

    @field_validator("token_sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        # The value is not echoed: it might be a token pasted by mistake.
        if not _SHA256_HEX.match(value):
            raise ValueError(
                "must be the token's sha256 as 64 lowercase hex digits "
                "(vantage token create prints it), never the token itself"
            )
        return value
