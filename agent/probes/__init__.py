"""Probe plugins: one module per check type, registered here and only here."""

from __future__ import annotations

from agent.probes import http
from agent.probes.base import Probe, ProbeContext

PROBES: dict[str, Probe] = {
    "http": http.probe,
}

__all__ = ["PROBES", "Probe", "ProbeContext"]
