"""Probe plugins: one module per check type, registered here and only here."""

from __future__ import annotations

from agent.probes import dns, email_auth, http, http_flow, tls
from agent.probes.base import Probe, ProbeContext

PROBES: dict[str, Probe] = {
    "http": http.probe,
    "tls": tls.probe,
    "dns": dns.probe,
    "email_auth": email_auth.probe,
    "http_flow": http_flow.probe,
}

__all__ = ["PROBES", "Probe", "ProbeContext"]
