"""The `http` check type."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from common.config.base import CheckBase, Model

_STATUS_RANGE = re.compile(r"^([1-5])xx$")


def status_matches(spec: str, status: int) -> bool:
    """Whether `status` fits a status spec: `200` or a range like `2xx`."""
    match = _STATUS_RANGE.match(spec)
    if match:
        return status // 100 == int(match.group(1))
    return spec == str(status)


def _status_spec(value: object) -> str:
    text = str(value)
    if _STATUS_RANGE.match(text) or (text.isdigit() and 100 <= int(text) <= 599):
        return text
    raise ValueError(f"bad status {value!r}: use a code from 100 to 599 or a range like 2xx")


def validate_url(url: str) -> str:
    """Reject URLs a probe could never request."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"bad URL {url!r}: the scheme must be http or https")
    if not parts.hostname:
        raise ValueError(f"bad URL {url!r}: no host")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"bad URL {url!r}: bad port") from None
    return url


class HttpExpect(Model):
    """What a good HTTP answer looks like."""

    status: tuple[str, ...] = ("2xx",)

    @field_validator("status", mode="before")
    @classmethod
    def _statuses(cls, value: object) -> tuple[str, ...]:
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(_status_spec(item) for item in items)

    def status_ok(self, status: int) -> bool:
        """Whether `status` is one of the expected codes."""
        return any(status_matches(spec, status) for spec in self.status)


class HttpCheck(CheckBase):
    """An HTTP(S) request against one URL."""

    type: Literal["http"] = "http"
    url: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect: HttpExpect = HttpExpect()
    max_body_bytes: int = Field(default=1 << 20, ge=0)
    release_header: str | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return validate_url(value)
