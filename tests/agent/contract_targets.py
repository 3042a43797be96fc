"""How each probe type meets each fault of the contract test.

`TARGETS[type](fault, servers)` returns the check settings (a dict for the
type's config model, without name/type/timeout) that make the probe meet
that fault, or None when the fault cannot reach that type (a dns probe never
does a TLS handshake). Every type in `agent.probes.PROBES` must have a row:
a new probe type joins the contract by adding one here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.faults import Fault
from tests.agent.faulty import DNS_ZONE, Faulty

CONTRACT: dict[str, Fault] = {
    "refused": Fault.REFUSED,
    "hanging": Fault.TIMEOUT,
    "wrong_hostname": Fault.HOSTNAME_MISMATCH,
    "expired": Fault.CERT_EXPIRED,
    "garbage_tls": Fault.TLS_PROTOCOL,
    "garbage": Fault.PROTOCOL_ERROR,
    "dns_refused": Fault.DNS_REFUSED,
    "dns_nxdomain": Fault.NXDOMAIN,
    "dns_silent": Fault.NO_ANSWER,
}
"""Contract fault -> the fault every probe must report (its reason comes
from common.faults.REASONS)."""

Settings = dict[str, Any] | None
Target = Callable[[str, Faulty], Settings]

_DNS_NAMES = {"dns_refused": "refused", "dns_nxdomain": "nxdomain", "dns_silent": "silent"}


def _name(fault: str) -> str | None:
    label = _DNS_NAMES.get(fault)
    return f"{label}.{DNS_ZONE}" if label else None


def _url(fault: str, s: Faulty) -> str | None:
    if name := _name(fault):
        return f"http://{name}:{s.refused}/"
    port_scheme = {
        "refused": (s.refused, "http"),
        "hanging": (s.hanging, "http"),
        "wrong_hostname": (s.wrong_hostname, "https"),
        "expired": (s.expired, "https"),
        "garbage_tls": (s.garbage, "https"),
        "garbage": (s.garbage, "http"),
    }
    port, scheme = port_scheme[fault]
    return f"{scheme}://127.0.0.1:{port}/"


def _http(fault: str, s: Faulty) -> Settings:
    return {"url": _url(fault, s), "ca_file": s.ca_file}


def _http_flow(fault: str, s: Faulty) -> Settings:
    return {"ca_file": s.ca_file, "steps": [{"name": "only", "url": _url(fault, s)}]}


def _tls(fault: str, s: Faulty) -> Settings:
    if name := _name(fault):
        return {"target": f"{name}:{s.refused}", "ca_file": s.ca_file}
    ports = {
        "refused": s.refused,
        "hanging": s.hanging,
        "wrong_hostname": s.wrong_hostname,
        "expired": s.expired,
        "garbage_tls": s.garbage,
    }
    port = ports.get(fault)
    return None if port is None else {"target": f"127.0.0.1:{port}", "ca_file": s.ca_file}


def _tcp(fault: str, s: Faulty) -> Settings:
    # Waiting for a banner makes a silent or garbage server visible.
    banner = {"query_response": [{"expect": "^220 "}]}
    if name := _name(fault):
        return {"target": f"{name}:{s.refused}", **banner}
    tls = {"tls": True, "ca_file": s.ca_file}
    settings: dict[str, dict[str, Any]] = {
        "refused": {"target": f"127.0.0.1:{s.refused}", **banner},
        "hanging": {"target": f"127.0.0.1:{s.hanging}", **banner},
        # "garbage": tcp speaks no protocol of its own; a banner that does not
        # match is its expect assertion failing, not a protocol error.
        "wrong_hostname": {"target": f"127.0.0.1:{s.wrong_hostname}", **tls},
        "expired": {"target": f"127.0.0.1:{s.expired}", **tls},
        "garbage_tls": {"target": f"127.0.0.1:{s.garbage}", **tls},
    }
    return settings.get(fault)


def _dns_server(fault: str, s: Faulty) -> tuple[str, str] | None:
    if name := _name(fault):
        return name, f"{s.dns[0]}:{s.dns[1]}"
    if fault == "refused":  # UDP to a closed port: the ICMP error refuses it
        return f"ok.{DNS_ZONE}", f"127.0.0.1:{s.refused}"
    return None


def _dns(fault: str, s: Faulty) -> Settings:
    found = _dns_server(fault, s)
    return None if found is None else {"query_name": found[0], "server": found[1]}


def _email_auth(fault: str, s: Faulty) -> Settings:
    found = _dns_server(fault, s)
    return None if found is None else {"domain": found[0], "server": found[1]}


def _grpc(fault: str, s: Faulty) -> Settings:
    if name := _name(fault):
        return {"target": f"{name}:{s.refused}"}
    tls = {"tls": True, "ca_file": s.ca_file}
    settings: dict[str, dict[str, Any]] = {
        "refused": {"target": f"127.0.0.1:{s.refused}"},
        "hanging": {"target": f"127.0.0.1:{s.hanging}"},
        "garbage": {"target": f"127.0.0.1:{s.garbage}"},
        # The faulty TLS servers offer h2 by ALPN, so grpc gets as far as the name.
        "wrong_hostname": {"target": f"127.0.0.1:{s.wrong_hostname}", **tls},
        "expired": {"target": f"127.0.0.1:{s.expired}", **tls},
        "garbage_tls": {"target": f"127.0.0.1:{s.garbage}", **tls},
    }
    return settings.get(fault)


def _icmp(fault: str, s: Faulty) -> Settings:
    # ICMP has no port, TLS or protocol of its own: only names can fail it.
    name = _name(fault)
    return None if name is None else {"target": name}


TARGETS: dict[str, Target] = {
    "grpc": _grpc,
    "icmp": _icmp,
    "http": _http,
    "http_flow": _http_flow,
    "tls": _tls,
    "tcp": _tcp,
    "dns": _dns,
    "email_auth": _email_auth,
}
