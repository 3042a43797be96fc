"""Probe plugins: one module per check type, `agent/probes/<type>.py`, for
every probed type of the one list of check types (common.config.registry).

Modules are imported on first use: an agent that runs only HTTP checks never
loads dnspython or cryptography, which keeps its memory small.
"""

from __future__ import annotations

import importlib

from agent.probe_kit.base import Probe, ProbeContext
from common.config.registry import CHECK_TYPES

PROBES: dict[str, str] = {
    name: f"agent.probes.{name}" for name, model in CHECK_TYPES.items() if model.probed
}
"""Check type -> the module whose `probe` function runs it (heartbeats are
pushed to the collector, not probed)."""

_LOADED: dict[str, Probe] = {}


def probe_for(check_type: str) -> Probe:
    """The probe function for a check type; KeyError for an unknown type."""
    probe = _LOADED.get(check_type)
    if probe is None:
        probe = _LOADED[check_type] = importlib.import_module(PROBES[check_type]).probe
    return probe


__all__ = ["PROBES", "Probe", "ProbeContext", "probe_for"]
