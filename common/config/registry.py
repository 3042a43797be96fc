"""The one place that lists check types. Adding a type means one model
module and one line here (and, for a probed type, one probe module
`agent/probes/<type>.py`, which agent.probes finds by this list)."""

from __future__ import annotations

from common.config.base import CheckBase
from common.config.dns import DnsCheck
from common.config.email_auth import EmailAuthCheck
from common.config.grpc import GrpcCheck
from common.config.heartbeat import HeartbeatCheck
from common.config.http import HttpCheck
from common.config.http_flow import HttpFlowCheck
from common.config.icmp import IcmpCheck
from common.config.tcp import TcpCheck
from common.config.tls import TlsCheck

CHECK_TYPES: dict[str, type[CheckBase]] = {
    "http": HttpCheck,
    "tls": TlsCheck,
    "dns": DnsCheck,
    "email_auth": EmailAuthCheck,
    "http_flow": HttpFlowCheck,
    "heartbeat": HeartbeatCheck,
    "tcp": TcpCheck,
    "grpc": GrpcCheck,
    "icmp": IcmpCheck,
}
