"""Build the evaluator's and heartbeat monitor's policies from the check
config: the edge between the config model and the pure alerting core.
(Samples need no conversion: they expose what the evaluator reads.)"""

from __future__ import annotations

from urllib.parse import urlsplit

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


def check_policy(check: CheckBase) -> CheckPolicy:
    """The evaluator's view of one probed check."""
    slo = SloPolicy(
        p95_warning=check.slo.p95_warning,
        p95_critical=check.slo.p95_critical,
        error_ratio=check.slo.error_ratio,
    )
    return CheckPolicy(
        name=check.name,
        check_type=check.type,
        interval=check.interval,
        regions=check.regions,
        retry_after=check.retry_after,
        failure_threshold=check.failure_threshold,
        success_threshold=check.success_threshold,
        quorum=check.quorum,
        labels=dict(check.labels),
        slo=slo,
        flap=FlapPolicy(check.flapping.changes, check.flapping.window, check.flapping.settle),
        runbook_url=check.runbook_url,
        host=target_host(check),
        stale_grace=check.stale_grace,
    )


def policies(config: Config) -> tuple[list[CheckPolicy], list[HeartbeatPolicy]]:
    """Policies for every check: probed ones and heartbeats."""
    probed = [check_policy(c) for c in config.checks if c.probed]
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
