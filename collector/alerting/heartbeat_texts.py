"""The words on-call reads for heartbeat alerts (`HeartbeatMissed`,
`JobFailed`): labels, summaries, descriptions and details. Pure string
building, no state; `heartbeats.py` decides when they fire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collector.alerting.deploys import humanize
from collector.alerting.lifecycle import check_labels
from collector.alerting.model import Alert, AlertState
from collector.alerting.regions import stamp

if TYPE_CHECKING:
    from collector.alerting.heartbeats import HeartbeatPolicy, _Beat

MISSED, FAILED = "HeartbeatMissed", "JobFailed"
_SUMMARY_MESSAGE_CHARS = 120  # a pager shows one line


def _labels(policy: HeartbeatPolicy, alertname: str) -> dict[str, str]:
    return check_labels(
        policy.labels,
        alertname=alertname,
        check=policy.name,
        check_type="heartbeat",
        severity=policy.severity,
    )


def _notes(policy: HeartbeatPolicy, beat: _Beat, summary: str, description: str) -> dict[str, str]:
    seen, deadline = beat.last_seen(), beat.deadline(policy)
    notes = {
        "summary": summary,
        "description": description,
        "last_seen": "never" if seen is None else stamp(seen),
        "deadline": "none" if deadline is None else stamp(deadline),
    }
    if policy.runbook_url:
        notes["runbook_url"] = policy.runbook_url
    return notes


def _details(policy: HeartbeatPolicy, beat: _Beat) -> dict[str, object]:
    return {
        "deadline": beat.deadline(policy),
        "last_success": beat.last_success,
        "last_start": beat.last_start,
        "last_fail": beat.last_fail,
        "message": beat.message,
    }


def _since(beat: _Beat, now: float) -> str:
    if beat.last_success is None:
        first = beat.registered_at if beat.first_ping is None else beat.first_ping
        return f"never reported success (first ping {stamp(first)})"
    ago = humanize(now - beat.last_success)
    return f"last reported success at {stamp(beat.last_success)} ({ago} ago)"


def missed(policy: HeartbeatPolicy, beat: _Beat, now: float) -> Alert:
    """`HeartbeatMissed`: no success by the deadline."""
    deadline = beat.deadline(policy)
    assert deadline is not None  # only jobs past `new` have one to miss
    summary = f"job {policy.name} missed its heartbeat: {_since(beat, now)}"
    description = (
        f"Job {policy.name} {_since(beat, now)}; a success was due by {stamp(deadline)} "
        f"(every {humanize(policy.period)}, {humanize(policy.grace)} grace)."
    )
    if beat.running() and beat.last_start is not None:
        description += f" A run started at {stamp(beat.last_start)} and has not finished."
    elif (seen := beat.last_seen()) is not None and seen != beat.last_success:
        description += f" Last heard from at {stamp(seen)}."
    notes = _notes(policy, beat, summary, description)
    return Alert(
        _labels(policy, MISSED), notes, AlertState.FIRING, deadline, None, _details(policy, beat)
    )


def job_failed(policy: HeartbeatPolicy, beat: _Beat, now: float) -> Alert:
    """`JobFailed`: the job said so with `/fail`."""
    said = beat.message.strip()
    short = said.splitlines()[0][:_SUMMARY_MESSAGE_CHARS] if said else ""
    summary = f"job {policy.name} failed" + (f": {short}" if short else "")
    description = (
        f"Job {policy.name} reported failure at {stamp(now)}"
        + (f" with: {said}" if said else " (no message)")
        + f". It {_since(beat, now)}. The next success resolves this alert."
    )
    notes = _notes(policy, beat, summary, description)
    return Alert(
        _labels(policy, FAILED), notes, AlertState.FIRING, now, None, _details(policy, beat)
    )
