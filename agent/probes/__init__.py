"""Probe plugins: one module per check type, registered here and only here.

Modules are imported on first use: an agent that runs only HTTP checks never
loads dnspython or cryptography, which keeps its memory small.
"""

from __future__ import annotations

import importlib

from agent.probe_kit.base import Probe, ProbeContext

PROBES: dict[str, str] = {
    "http": "agent.probes.http",
    "tls": "agent.probes.tls",
    "dns": "agent.probes.dns",
    "email_auth": "agent.probes.email_auth",
    "http_flow": "agent.probes.http_flow",
    "tcp": "agent.probes.tcp",
    "grpc": "agent.probes.grpc",
    "icmp": "agent.probes.icmp",
}
"""Check type -> the module whose `probe` function runs it."""

_LOADED: dict[str, Probe] = {}


def probe_for(check_type: str) -> Probe:
    """The probe function for a check type; KeyError for an unknown type."""
    probe = _LOADED.get(check_type)
    if probe is None:
        probe = _LOADED[check_type] = importlib.import_module(PROBES[check_type]).probe
    return probe


__all__ = ["PROBES", "Probe", "ProbeContext", "probe_for"]
