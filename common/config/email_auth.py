"""The `email_auth` check type: SPF, DMARC and DKIM records of one domain."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from common.config.base import CheckBase, Model, shared
from common.config.dns import dns_server, validate_dns_name

SPF_ALL: tuple[str, ...] = ("-all", "~all", "?all", "+all")
"""SPF `all` qualifiers, strictest first."""
DMARC_POLICIES: tuple[str, ...] = ("none", "quarantine", "reject")
"""DMARC policies, laxest first."""

DKIM_SELECTOR = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
"""What a DKIM selector may look like (labels of letters, digits, - and _)."""


class EmailAuthExpect(Model):
    """The minimum a domain's mail authentication must meet."""

    spf_all: Literal["-all", "~all", "?all", "+all"] = "~all"
    dmarc_policy: Literal["none", "quarantine", "reject"] = "quarantine"
    dkim_min_bits: int = Field(default=1024, ge=1)

    @field_validator("spf_all", mode="before")
    @classmethod
    def _spf_all(cls, value: object) -> str:
        if value not in SPF_ALL:
            raise ValueError(f"bad spf_all {value!r}: use one of {', '.join(SPF_ALL)}")
        return str(value)

    @field_validator("dmarc_policy", mode="before")
    @classmethod
    def _policy(cls, value: object) -> str:
        text = str(value).lower()
        if text not in DMARC_POLICIES:
            choices = ", ".join(DMARC_POLICIES)
            raise ValueError(f"bad dmarc_policy {value!r}: use one of {choices}")
        return text


class EmailAuthCheck(CheckBase):
    """Lint one domain's SPF, DMARC and DKIM records."""

    type: Literal["email_auth"] = "email_auth"
    domain: str
    dkim_selectors: tuple[str, ...] = ()
    server: str | None = None
    expect: EmailAuthExpect = Field(default_factory=shared(EmailAuthExpect))

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return validate_dns_name(value, "domain").removesuffix(".")

    @field_validator("dkim_selectors")
    @classmethod
    def _selectors(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for selector in value:
            if not DKIM_SELECTOR.match(selector):
                raise ValueError(f"bad DKIM selector {selector!r}: use letters, digits, -, _, .")
        return value

    @field_validator("server")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        return None if value is None else dns_server(value)
