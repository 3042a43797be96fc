"""What every receiver says about an alert, computed once: its title, the
regions and failure reasons of its incident, a one-line headline, and times
in RFC 3339. Pure: no I/O, so each notifier's payload is easy to test.

The evaluator puts the regions in the `regions` annotation and the incident
(per-region failures with reason and request id) in `details["incident"]`;
an `AgentDown` has a `region` label instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from collector.alerting.model import Alert, AlertState, Notification

SMS_LIMIT = 160
"""One SMS segment: longer texts cost more and arrive split."""


def rfc3339(ts: float) -> str:
    """`2026-11-27T10:00:00.000Z`: what Alertmanager and PagerDuty parse."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tag(state: AlertState) -> str:
    """`[FIRING]` or `[RESOLVED]`: one alert's state."""
    return f"[{state.upper()}]"


def subject_of(alert: Alert) -> str:
    """What the alert is about: the check, else the agent."""
    return alert.labels.get("check") or alert.labels.get("agent", "")


def title(alert: Alert) -> str:
    """`CheckDown home`."""
    return " ".join(p for p in (alert.name, subject_of(alert)) if p)


def _incident_regions(alert: Alert) -> Mapping[str, object]:
    incident = alert.details.get("incident")
    regions = incident.get("regions") if isinstance(incident, Mapping) else None
    return regions if isinstance(regions, Mapping) else {}


def regions(alert: Alert) -> list[str]:
    """The regions the alert concerns, sorted."""
    if text := alert.annotations.get("regions"):
        return sorted(r.strip() for r in text.split(",") if r.strip())
    if found := _incident_regions(alert):
        return sorted(found)
    region = alert.labels.get("region")
    return [region] if region else []


def reasons(alert: Alert) -> dict[str, str]:
    """Failure reason per failing region (`{"eu-west": "connect_refused"}`)."""
    out = {}
    for region, failure in sorted(_incident_regions(alert).items()):
        if isinstance(failure, Mapping) and failure.get("reason"):
            out[region] = str(failure["reason"])
    return out


def request_id(alert: Alert) -> str:
    """The first failing result's request id, to find in the target's logs."""
    return alert.annotations.get("first_request_id", "")


def runbook(alert: Alert) -> str:
    """The runbook URL, if the check has one."""
    return alert.annotations.get("runbook_url", "")


def summary(alert: Alert) -> str:
    """The summary annotation, else the title."""
    return alert.annotations.get("summary") or title(alert)


def ordered(notification: Notification) -> tuple[Alert, ...]:
    """The group's alerts as a message shows them: what changed first (newly
    firing, then resolved), then what still fires."""
    n = notification
    return n.fired + n.resolved + n.ongoing


def lead_tag(notification: Notification) -> str:
    """`[FIRING]` when something newly fires, `[RESOLVED]` when the news is
    only resolves, `[STILL FIRING]` for a reminder with no news."""
    n = notification
    return "[FIRING]" if n.fired else "[RESOLVED]" if n.resolved else "[STILL FIRING]"


def _where(alert: Alert) -> str:
    found = regions(alert)
    return f" ({', '.join(found)})" if found else ""


def _also(notification: Notification) -> str:
    """`; +1 more firing; resolved: LatencyHigh home; 2 still firing`: the
    rest of the news after the lead alert, then what still fires."""
    n, lead = notification, notification.lead
    parts = []
    for label, alerts in (
        ("firing", n.fired),
        ("resolved", n.resolved),
        ("still firing", n.ongoing),
    ):
        rest = [a for a in alerts if a is not lead]
        if len(rest) == 1:
            parts.append(f"{'also ' if lead in alerts else ''}{label}: {title(rest[0])}")
        elif rest:
            parts.append(f"{len(rest)} {'more ' if lead in alerts else ''}{label}")
    return "".join(f"; {p}" for p in parts)


def headline(notification: Notification) -> str:
    """`[RESOLVED] CheckDown home (eu-west, us-east); still firing: LatencyHigh
    home`: the lead change with its own regions, then the rest in short."""
    lead = notification.lead
    return f"{lead_tag(notification)} {title(lead)}{_where(lead)}{_also(notification)}"


def short_text(notification: Notification, limit: int = SMS_LIMIT) -> str:
    """`[FIRING] home down in eu-west, us-east: connect_refused; started 2m
    after deploy v1.4.2`, for SMS: the lead change in words, then the rest."""
    first = notification.lead
    causes = sorted(set(reasons(first).values()))
    if first.state is AlertState.FIRING and first.name == "CheckDown" and causes:
        line = f"{subject_of(first)} down in {', '.join(regions(first))}: {', '.join(causes)}"
        line += _deploy(first)
    else:  # resolves and other alerts: the evaluator's summary already reads well
        line = summary(first)
    text = f"{lead_tag(notification)} {line}{_also(notification)}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _deploy(alert: Alert) -> str:
    """`; started 2m after deploy v1.4.2`, or `; release v1.4.2`."""
    incident = alert.details.get("incident")
    attribution = incident.get("attribution") if isinstance(incident, Mapping) else None
    if isinstance(attribution, str) and attribution.startswith("started"):
        return f"; {attribution}"
    release = alert.annotations.get("release", "")
    return f"; release {release}" if release else ""


def detail_lines(alert: Alert) -> list[str]:
    """`Key: value` lines of what on-call needs, for plain-text bodies."""
    rows = [
        ("Regions", ", ".join(regions(alert))),
        ("Reasons", ", ".join(f"{r}: {why}" for r, why in reasons(alert).items())),
        ("Request id", request_id(alert)),
        ("Release", alert.annotations.get("release", "")),
        ("Runbook", runbook(alert)),
        ("Started", rfc3339(alert.starts_at)),
        ("Ended", rfc3339(alert.ends_at) if alert.ends_at is not None else ""),
        ("Labels", " ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))),
        ("Fingerprint", alert.fingerprint),
    ]
    return [f"{key}: {value}" for key, value in rows if value]
