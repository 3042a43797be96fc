"""The `dns` check type, and the `host:port` and DNS-name rules the `tls` and
`email_auth` types share with it.

The name to look up is `query_name`, not `name`: `name` is already the
check's own label, and YAML keeps only the last of two equal keys.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from common.addresses import is_ip_address, split_host_port
from common.config.base import CheckBase, Model, Regex, shared

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "CAA", "SOA", "SRV", "PTR"]
RECORD_TYPES: tuple[str, ...] = (
    "A",
    "AAAA",
    "CNAME",
    "MX",
    "TXT",
    "NS",
    "CAA",
    "SOA",
    "SRV",
    "PTR",
)
RCODES = frozenset(
    {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "NOTAUTH"}
)

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def validate_dns_name(value: str, what: str = "name") -> str:
    """Reject text that cannot be a DNS name; a trailing dot is allowed."""
    labels = value.removesuffix(".").split(".")
    if not value or len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"bad {what} {value!r}: use a DNS name like www.example.com")
    if len(labels) > 1 and labels[-1].isdigit():
        # No top-level domain is all digits (RFC 3696 §2): a mistyped address.
        raise ValueError(f"bad {what} {value!r}: not an IP address, and no DNS name ends in digits")
    return value


def dns_server(value: str) -> str:
    """Validate a DNS server: an IP address with an optional port (default 53).

    A host name is refused: looking it up would need the resolver this
    setting exists to bypass.
    """
    host, _ = split_host_port(value, 53)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"bad server {value!r}: use an IP address, e.g. 127.0.0.1:53") from None
    return value


class DnsExpect(Model):
    """What a good DNS answer looks like. Answer checks compare text forms;
    names compare without case and trailing dot, TXT strings joined."""

    rcode: str = "NOERROR"
    answers_equal: tuple[str, ...] | None = None
    answers_contain: tuple[str, ...] | None = None
    answers_match: Regex | None = Field(default=None, description="every answer matches")
    min_answers: int | None = Field(default=None, ge=0)
    dnssec_validated: bool = False
    """Require the AD bit: the answer was DNSSEC-validated by the server,
    which must then be a validating resolver (RFC 4035 §3.2.3)."""

    @field_validator("rcode", mode="before")
    @classmethod
    def _rcode(cls, value: object) -> str:
        text = str(value).upper()
        if text not in RCODES:
            raise ValueError(f"bad rcode {value!r}: use one of {', '.join(sorted(RCODES))}")
        return text

    @model_validator(mode="after")
    def _answers_need_noerror(self) -> DnsExpect:
        fields = ("answers_equal", "answers_contain", "answers_match", "min_answers")
        used = [name for name in fields if getattr(self, name) is not None]
        if used and self.rcode != "NOERROR":
            raise ValueError(f"{used[0]} needs rcode NOERROR: a {self.rcode} has no answers")
        return self


class DnsCheck(CheckBase):
    """One DNS query, sent to one server, checked against expectations."""

    type: Literal["dns"] = "dns"
    query_name: str | None = None
    record: RecordType = "A"
    server: str | None = None
    expect: DnsExpect = Field(default_factory=shared(DnsExpect))

    @field_validator("query_name")
    @classmethod
    def _query_name(cls, value: str | None) -> str | None:
        if value is None or is_ip_address(value):
            return value  # an address is looked up by its reverse name (PTR)
        return validate_dns_name(value, "query_name")

    @field_validator("record", mode="before")
    @classmethod
    def _record(cls, value: object) -> str:
        text = str(value).upper()
        if text not in RECORD_TYPES:
            raise ValueError(f"bad record {value!r}: use one of {', '.join(RECORD_TYPES)}")
        return text

    @field_validator("server")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        return None if value is None else dns_server(value)

    @model_validator(mode="after")
    def _needs_query_name(self) -> DnsCheck:
        # Optional in the type only so a missing key gets this hint, not
        # pydantic's bare "Field required".
        if self.query_name is None:
            raise ValueError(
                "query_name: set the name to look up, e.g. query_name: www.example.com "
                "(name: is the check's own name)"
            )
        if is_ip_address(self.query_name) and self.record != "PTR":
            raise ValueError(
                f"query_name {self.query_name} is an address: use record: PTR to look up its name"
            )
        return self

    @property
    def qname(self) -> str:
        """The name to look up (always set once validated); an address's
        reverse name (`1.2.0.192.in-addr.arpa`) for a PTR check."""
        assert self.query_name is not None
        if is_ip_address(self.query_name):
            return ipaddress.ip_address(self.query_name).reverse_pointer
        return self.query_name
