"""The words on-call reads: labels, summaries and descriptions of the alerts
the evaluator emits. Pure string building, no state.

Every text names the cause: which regions, which failure reason, what the
probe saw, the first failing request id (to find in the target's logs) and
the release that was live when the failure began.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from collector.alerting import lifecycle
from collector.alerting.backfill import LateOutage
from collector.alerting.certs import DAY, CertRecord
from collector.alerting.deploys import humanize
from collector.alerting.model import Alert, AlertState, Severity
from collector.alerting.policy import CheckPolicy
from collector.alerting.regions import Incident, stamp
from collector.alerting.slo import SloStats

_VERB = {
    "CheckDown": "down",
    "DnsMismatch": "DNS answers wrong",
    "EmailAuthFailing": "email authentication failing",
}
_SEVERITY = {
    "CheckDown": Severity.CRITICAL,
    "DnsMismatch": Severity.CRITICAL,
    "EmailAuthFailing": Severity.WARNING,
}


def check_labels(policy: CheckPolicy, host: str, alertname: str, severity: str) -> dict[str, str]:
    """The labels of a check's alert (`lifecycle.check_labels` for a policy)."""
    return lifecycle.check_labels(
        policy.labels,
        alertname=alertname,
        check=policy.name,
        check_type=policy.check_type,
        severity=severity,
        host=policy.host or host,
    )


def _notes(policy: CheckPolicy, summary: str, description: str) -> dict[str, str]:
    notes = {"summary": summary, "description": description}
    if policy.runbook_url:
        notes["runbook_url"] = policy.runbook_url
    return notes


def _sentence(text: str) -> str:
    return f" {text[:1].upper()}{text[1:]}." if text else ""


def outage(policy: CheckPolicy, host: str, incident: Incident) -> Alert:
    """The firing alert of an outage (or a DNS or email-auth finding)."""
    name = incident.alertname
    labels = check_labels(policy, host, name, policy.labels.get("severity") or _SEVERITY[name])
    if name != "CheckDown":  # lets an NXDOMAIN inhibit the host's HTTP/TLS alerts
        reasons = Counter(f.reason for f in incident.regions.values())
        labels["reason"] = min(reasons, key=lambda r: (-reasons[r], r))
    summary = f"{policy.name} {_VERB[name]} in {incident.causes()}"
    # A recent deploy is the likeliest cause: it goes in the summary, which
    # is all a pager shows. An old release only goes in the description.
    recent = incident.attribution.startswith("started")
    summary += f"; {incident.attribution}" if recent else ""
    first = incident.first
    region = next(r for r, f in sorted(incident.regions.items()) if f is first)
    description = (
        f"{summary}. First failing result at {stamp(first.at)} in {region} "
        f"(request id {first.request_id or 'none'}, agent {first.agent_id or 'unknown'})."
        + ("" if recent else _sentence(incident.attribution))
    )
    notes = _notes(policy, summary, description)
    notes |= {
        "regions": ", ".join(sorted(incident.regions)),
        "first_request_id": first.request_id,
        "release": incident.release,
        "incident": incident.id,
    }
    details = {"incident": incident.to_dict()}
    return Alert(labels, notes, AlertState.FIRING, incident.started_at, details=details)


def recovered(policy: CheckPolicy, incident: Incident) -> dict[str, str]:
    """Annotations for the resolve of an outage."""
    lasted = humanize((incident.resolved_at or incident.started_at) - incident.started_at)
    regions = ", ".join(sorted(incident.regions))
    summary = (
        f"{policy.name} recovered after {lasted} (was {_VERB[incident.alertname]} in {regions})"
    )
    # The regions it names are the alert's own: the incident may have
    # grown since it fired, and the `regions` field must say the same.
    return {"summary": summary, "resolution": "regions recovered", "regions": regions}


def flapping(policy: CheckPolicy, host: str, changes: int, down: bool, now: float) -> Alert:
    """`CheckFlapping`: the one notice while a check's alerts are damped."""
    window = humanize(policy.flap.window)
    state = "down" if down else "up"
    summary = (
        f"{policy.name} is flapping: {changes} up/down changes in {window}, {state} now; "
        f"further changes are quiet until it holds one state for {humanize(policy.flap.settle)}"
    )
    description = (
        f"{summary}. One notice follows when it settles, with its final state. "
        "Look at the target's stability (or the check's thresholds), not at each change."
    )
    severity = policy.labels.get("severity") or Severity.CRITICAL
    labels = check_labels(policy, host, "CheckFlapping", severity)
    return Alert(labels, _notes(policy, summary, description), AlertState.FIRING, now)


def settled(down: bool, now: float) -> dict[str, str]:
    """Annotations for the resolve of `CheckFlapping`: the final state."""
    state = "still down (see the outage alert)" if down else "up"
    return {"resolution": f"settled at {stamp(now)}: {state}"}


def late_outage(policy: CheckPolicy, host: str, outage: LateOutage, now: float) -> Alert:
    """The one notice of an outage found only in late (backfilled) results."""
    start, end = outage.started_at, outage.ended_at
    span = f"{stamp(start)[11:19]}\u2013{stamp(end)[11:19]}"
    regions = ", ".join(sorted(outage.regions))
    summary = f"{policy.name} was down {span} ({humanize(end - start)}) in {regions}, reported late"
    incident = Incident(policy.name, "CheckDown", start, now, dict(outage.regions), resolved_at=end)
    description = (
        f"{summary}: the results arrived after the outage had ended (the agents could not "
        f"reach the collector), so nobody was paged. Causes: {incident.causes()}. "
        f"From {stamp(start)} to {stamp(end)}."
    )
    labels = check_labels(policy, host, "CheckDownReportedLate", Severity.WARNING)
    notes = _notes(policy, summary, description) | {"regions": regions}
    details = {"incident": incident.to_dict()}
    return Alert(labels, notes, AlertState.FIRING, start, end, details)


NAMED_MOST = 20
"""Checks an `AgentDown` or `MonitoringBlind` names; past it the text says
how many more. A page that names 50,000 checks is one nobody reads, and
each change of its list rewrote ~1 MB of alert state (the status page and
`/api/v1/checks` list them all)."""


def named(checks: list[str]) -> str:
    """The first `NAMED_MOST` of `checks`, then how many more."""
    shown = ", ".join(checks[:NAMED_MOST])
    more = len(checks) - NAMED_MOST
    return f"{shown} and {more:,} more" if more > 0 else shown


def agent_down(
    agent: str, region: str, *, checks: list[str], last_seen: float | None, now: float
) -> Alert:
    """One stale agent in one region, naming the checks it was assigned."""
    since = f"since {stamp(last_seen)}" if last_seen is not None else "since we started"
    summary = f"agent {agent} in {region} sent no results {since}"
    description = (
        f"No results from agent {agent} in {region} {since}. It probes {len(checks)} "
        f"checks: {named(checks)}. The agent or its link to the collector is in "
        "trouble, not the target; the region does not vote on outages until it reports again."
    )
    notes = {"summary": summary, "description": description, "checks": named(checks)}
    labels = {"alertname": "AgentDown", "agent": agent, "region": region, "severity": "warning"}
    return Alert(labels, notes, AlertState.FIRING, now)


def monitoring_blind(checks: list[str], connected: int | None, now: float) -> Alert:
    """`MonitoringBlind`: checks nobody watches. Critical: an outage of ours."""
    why = "no agent is connected" if connected == 0 else "every region of these checks is stale"
    what = "1 check" if len(checks) == 1 else f"{len(checks)} checks"
    summary = f"monitoring is blind for {what} ({why}): {named(checks)}"
    description = (
        f"{summary}. No results arrive for them, so an outage of the targets would not "
        "page: the problem is ours (agents, their network, or the collector's ingest)."
    )
    notes = {"summary": summary, "description": description, "checks": named(checks)}
    labels = {"alertname": "MonitoringBlind", "severity": Severity.CRITICAL.value}
    return Alert(labels, notes, AlertState.FIRING, now)


def sight_back() -> dict[str, str]:
    """Annotations for the resolve of `MonitoringBlind`."""
    return {"resolution": "monitoring sees again: every check has a region reporting"}


def agent_back(alert: Alert) -> dict[str, str]:
    """Annotations for the resolve of an `AgentDown`."""
    agent, region = alert.labels.get("agent", ""), alert.labels.get("region", "")
    return {"resolution": f"agent {agent} in {region} is reporting again"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms"


def latency(
    policy: CheckPolicy, host: str, stats: SloStats, level: Severity | None, now: float
) -> Alert | None:
    """`LatencyHigh` at `level`, or None when within budget."""
    if level is None or stats.p95 is None:
        return None
    slo = policy.slo
    budget = slo.p95_critical if level is Severity.CRITICAL else slo.p95_warning
    summary = (
        f"{policy.name} p95 latency {_ms(stats.p95)} over {_ms(budget)} "
        f"in the last {humanize(slo.window)}"
    )
    description = (
        f"{summary} ({stats.successes} successful results, all regions). "
        "Slow, not down: this is an SLO alert, not an outage."
    )
    labels = check_labels(policy, host, "LatencyHigh", level)
    return Alert(labels, _notes(policy, summary, description), AlertState.FIRING, now)


def error_ratio(
    policy: CheckPolicy, host: str, stats: SloStats, level: Severity | None, now: float
) -> Alert | None:
    """`ErrorRatioHigh` at `level`, or None when within budget."""
    if level is None or stats.error_ratio is None:
        return None
    slo = policy.slo
    summary = (
        f"{policy.name} error ratio {stats.error_ratio:.1%} over {slo.error_ratio:.1%} "
        f"in the last {humanize(slo.window)} ({stats.errors} of {stats.total} results failed)"
    )
    description = (
        f"{summary}. Failures of an outage already paged are not counted, so this is "
        "partial or intermittent failure."
    )
    labels = check_labels(policy, host, "ErrorRatioHigh", level)
    return Alert(labels, _notes(policy, summary, description), AlertState.FIRING, now)


def level_changed(current: Alert, new: Alert | None) -> dict[str, str]:
    """Annotations for the resolve of an SLO alert."""
    if new is None:
        what = "p95 latency" if current.name == "LatencyHigh" else "error ratio"
        return {"resolution": f"{what} back within budget"}
    return {"resolution": f"now {new.severity}: see the new alert"}


def _span(seconds: float) -> str:
    days = abs(seconds) / DAY
    return f"{days:.0f} days" if days >= 2 else humanize(abs(seconds))


def cert_expiring(
    policy: CheckPolicy, host: str, record: CertRecord, level: Severity, now: float
) -> Alert:
    """`CertExpiring` for one serial; notified once (`repeat=False`)."""
    left = record.not_after - now
    when = f"expires in {_span(left)}" if left > 0 else f"expired {_span(left)} ago"
    summary = f"{policy.name} TLS certificate {when} (serial {record.serial})"
    description = f"{summary}; not valid after {stamp(record.not_after)}. Renew it."
    labels = check_labels(policy, host, "CertExpiring", level) | {"serial": record.serial}
    details: Mapping[str, object] = {"serial": record.serial, "not_after": record.not_after}
    notes = _notes(policy, summary, description)
    return Alert(labels, notes, AlertState.FIRING, now, details=details, repeat=False)


def cert_renewed(
    policy: CheckPolicy, record: CertRecord, renewed_by: CertRecord | None
) -> dict[str, str]:
    """Annotations for the resolve of a `CertExpiring`."""
    if renewed_by is None:
        return {"resolution": f"certificate {record.serial} is no longer served"}
    return {
        "summary": (
            f"{policy.name} TLS certificate renewed: serial {renewed_by.serial} "
            f"valid until {stamp(renewed_by.not_after)}"
        ),
        "resolution": "certificate renewed",
    }
