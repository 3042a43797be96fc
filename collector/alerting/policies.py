"""Build the evaluator's and heartbeat monitor's policies from the check
config: the edge between the config model and the pure alerting core.
(Samples need no conversion: they expose what the evaluator reads.)"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from collector.alerting.certs import CertPolicy
from collector.alerting.flapping import FlapPolicy
from collector.alerting.heartbeats import HeartbeatPolicy
from collector.alerting.policy import CheckPolicy
from collector.alerting.slo import SloPolicy
from common.addresses import split_host_port
from common.config import CheckBase, Config
from common.config.dns import DnsCheck
from common.config.email_auth import EmailAuthCheck
from common.config.heartbeat import HeartbeatCheck
from common.config.http import HttpCheck
from common.config.tls import TlsCheck


def target_host(check: CheckBase) -> str | None:
    """The host a check is about, so an NXDOMAIN on it can inhibit the
    HTTP and TLS alerts of the same host."""
    if isinstance(check, HttpCheck):
        return urlsplit(check.url).hostname
    if isinstance(check, TlsCheck):
        return check.server_name or split_host_port(check.target, 443)[0]
    if isinstance(check, DnsCheck):
        return (check.query_name or "").rstrip(".") or None
    if isinstance(check, EmailAuthCheck):
        return check.domain
    return None


def check_policy(check: CheckBase, shared: dict[Any, Any] | None = None) -> CheckPolicy:
    """The evaluator's view of one probed check. With `shared`, equal SLO,
    flapping and certificate policies are one object across the checks built with it
    (they are frozen; at 50,000 checks, two per check were ~10 MB)."""
    table = {} if shared is None else shared
    slo = SloPolicy(
        p95_warning=check.slo.p95_warning,
        p95_critical=check.slo.p95_critical,
        error_ratio=check.slo.error_ratio,
    )
    flap = FlapPolicy(check.flapping.changes, check.flapping.window, check.flapping.settle)
    cert = CertPolicy(check.cert_expiry.warning_days, check.cert_expiry.critical_days)
    return CheckPolicy(
        name=check.name,
        check_type=check.type,
        interval=check.interval,
        regions=check.regions,
        retry_after=check.retry_after,
        failure_threshold=check.failure_threshold,
        success_threshold=check.success_threshold,
        quorum=check.quorum,
        # The frozen model's own dict: the evaluator only reads labels.
        labels=check.labels,
        slo=table.setdefault(slo, slo),
        flap=table.setdefault(flap, flap),
        cert=table.setdefault(cert, cert),
        runbook_url=check.runbook_url,
        host=target_host(check),
        stale_grace=check.stale_grace,
    )


def policies(config: Config) -> tuple[list[CheckPolicy], list[HeartbeatPolicy]]:
    """Policies for every check: probed ones and heartbeats."""
    shared: dict[Any, Any] = {}
    probed = [check_policy(c, shared) for c in config.checks if c.probed]
    beats = [
        HeartbeatPolicy(
            name=c.name,
            period=c.period,
            grace=c.grace,
            labels=dict(c.labels),
            runbook_url=c.runbook_url,
        )
        for c in config.checks
        if isinstance(c, HeartbeatCheck)
    ]
    return probed, beats
