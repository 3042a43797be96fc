"""The one result type the collector works with.

A `Sample` is built once, at the gRPC edge (`collector.server.sample_of`),
from a protobuf `Result`; statistics, the evaluator, `/metrics` and the API
read it, and tests build it directly with the same fields. It holds plain
values only, never the protobuf message: a message kept as a series' last
result would keep its whole decoded batch alive.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from common.reasons import FailureReason

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
"""Phase names, blackbox_exporter's, in the order a probe reaches them."""


_FIVE = struct.Struct(f"{len(PHASES)}d")


class PhaseTimes(Mapping[str, float]):
    """Phase timings as a read-only mapping over five packed floats (NaN:
    not reached). Every series keeps its last result, and a dict of five
    float objects cost 300 B more per series. Packed in `bytes`, which the
    cycle collector does not track: in an ingest flood every result's last
    copy outlives the young collections, and an `array` there was one more
    object in each old-generation pass (and 40 B more)."""

    __slots__ = ("_seconds",)

    def __init__(self, seconds: Mapping[str, float]) -> None:
        self._seconds = _FIVE.pack(*[seconds.get(name, math.nan) for name in PHASES])

    def __getitem__(self, name: str) -> float:
        try:
            (value,) = struct.unpack_from("d", self._seconds, 8 * PHASES.index(name))
        except ValueError:
            raise KeyError(name) from None
        if math.isnan(value):
            raise KeyError(name)
        return float(value)

    def __iter__(self) -> Iterator[str]:
        values = _FIVE.unpack(self._seconds)
        return (n for n, v in zip(PHASES, values, strict=True) if not math.isnan(v))

    def __len__(self) -> int:
        return sum(1 for v in _FIVE.unpack(self._seconds) if not math.isnan(v))


NO_PHASES: Mapping[str, float] = PhaseTimes({})
"""Shared by every result that reached no phase."""


@dataclass(slots=True, kw_only=True)
class Sample:
    """One probe result as the collector sees it. Treated as immutable; not
    `frozen`, which costs several times more to build on the ingest path."""

    check: str
    region: str
    """From the authenticated stream's Hello, never from the result."""
    agent_id: str
    at: float
    """When the probe finished, unix seconds."""
    duration: float
    success: bool
    check_type: str = ""
    reason: FailureReason = FailureReason.NONE
    message: str = ""
    """The short failure message (already redacted by the agent)."""
    request_id: str = ""
    release: str = ""
    """The target's release, from its release header."""
    retry: bool = False
    """A fast re-check after a failure; it counts like any other result."""
    phases: Mapping[str, float] = field(default_factory=lambda: NO_PHASES)
    """Phase timings by blackbox_exporter name: the phases the probe reached."""
    status_code: int = 0
    """The HTTP status, 0 for other probes."""
    http_version: str = ""
    redirects: int = 0
    """HTTP redirects followed."""
    body_bytes: int = 0
    """Bytes of the (last) HTTP response body read."""
    peer_address: str = ""
    """The IP the (last) HTTP request connected to."""
    cert_not_after: float | None = None
    """The earliest certificate expiry in the chain, unix seconds."""
    cert_serial: str | None = None
    """The leaf certificate's serial, None without TLS."""
    tls_version: str = ""
    """The negotiated TLS version, e.g. `TLSv1.3`."""
    cert_chain: tuple[str, str, str, str] | None = None
    """The leaf's (sha256 fingerprint, subject, issuer, SANs comma-joined),
    for blackbox's `probe_ssl_last_chain_info`; None without TLS."""
    failed_assertions: tuple[str, ...] = ()
    """`name: message` of every failed assertion."""

    @property
    def started_at(self) -> float:
        """When the probe started."""
        return self.at - self.duration
