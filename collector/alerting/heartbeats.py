"""Heartbeats for background jobs: pings in, alert events out. Pure: no I/O,
no clock; every method takes `now` (unix seconds, the collector's clock).

A job calls `POST /ping/<token>` when it succeeds, `/ping/<token>/start` when
a run begins and `/ping/<token>/fail` when it fails. Per job, at most one of
two alerts fires at a time:

- **`HeartbeatMissed`** when no success arrived by the *deadline*: the last
  success + `period` + `grace` (before the first success: the first ping +
  `period` + `grace`). It fires once, at the deadline, from `tick`.

A job starts **`new`**, as on healthchecks.io: until its first ping (of any
kind) it has no deadline and never alerts. A check added to the config is
not a broken job; its token may not even have been handed out yet.
- **`JobFailed`** on a `/fail` ping. The job is known to be broken, so no
  `HeartbeatMissed` follows while it fires: one page per broken job. A fail
  while `HeartbeatMissed` fires swaps them (the job ran again, but failed).

The next success resolves either. A `/start` ping only records when a run
began: a run that hangs shows up as `HeartbeatMissed` at the deadline, whose
text then says a run started and never finished.

Severity is the check's `severity` label, **critical** by default: the job
not running is its outage, as `CheckDown` is a site's. Set
`labels: {severity: warning}` on jobs that can wait for the morning.

Tokens: each job gets a random token (192 bits) on first registration. Only
its sha256 is kept and exported, so persisted state never holds a usable
token. The plain token is handed out once (`token_for`), and `issue_token`
rotates it. Pings look the job up by the token's hash.

Restarts: `export_state` keeps the deadlines and the firing alerts; after
`load_state`, `tick` fires a deadline that passed while the collector was
down, and never fires one again that had already fired.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from collector.alerting.heartbeat_texts import FAILED, MISSED, job_failed, missed
from collector.alerting.lifecycle import Lifecycle, key
from collector.alerting.model import Alert, Severity
from collector.alerting.regions import stamp

__all__ = [
    "FAILED",
    "MISSED",
    "PING_KINDS",
    "STATE_VERSION",
    "TOKEN_BYTES",
    "HeartbeatMonitor",
    "HeartbeatPolicy",
    "PingKind",
    "hash_token",
]

PingKind = Literal["success", "start", "fail"]
PING_KINDS: tuple[PingKind, ...] = ("success", "start", "fail")

STATE_VERSION = 1
"""Bumped when the shape of `export_state` changes; older state is ignored."""
TOKEN_BYTES = 24
"""192 random bits: well past the 128 the issue asks for, 32 URL-safe chars."""
_MAX_TOKEN_CHARS = 256  # anything longer is not ours; do not bother hashing it
_MAX_MESSAGE_CHARS = 1000  # job output goes into alerts and state: keep it bounded


@dataclass(frozen=True, kw_only=True)
class HeartbeatPolicy:
    """What the monitor needs to know about one heartbeat check; the config
    edge builds it from a `HeartbeatCheck` (name, period, grace, labels,
    runbook_url)."""

    name: str
    period: float
    grace: float
    labels: Mapping[str, str] = field(default_factory=dict)
    runbook_url: str | None = None

    @property
    def severity(self) -> str:
        """The `severity` label, critical when unset (see the module doc)."""
        return self.labels.get("severity") or Severity.CRITICAL.value

    @property
    def overdue_after(self) -> float:
        """Seconds after the last success at which the job is missed."""
        return self.period + self.grace


def hash_token(token: str) -> str:
    """The sha256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Beat:
    """What is known about one job; JSON round-trips through to/from_dict."""

    registered_at: float
    first_ping: float | None = None
    """None: the job is `new` (never pinged) and has no deadline."""
    last_success: float | None = None
    last_start: float | None = None
    last_fail: float | None = None
    message: str = ""
    token_hash: str = ""
    token_shown: bool = False

    def deadline(self, policy: HeartbeatPolicy) -> float | None:
        base = self.first_ping if self.last_success is None else self.last_success
        return None if base is None else base + policy.overdue_after

    def last_seen(self) -> float | None:
        seen = [t for t in (self.last_success, self.last_start, self.last_fail) if t is not None]
        return max(seen, default=None)

    def running(self) -> bool:
        """A run started after the last finished one and has not reported."""
        finished = max((t for t in (self.last_success, self.last_fail) if t is not None), default=0)
        return self.last_start is not None and self.last_start > finished

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Beat:
        seen = [data.get(k) for k in ("last_success", "last_start", "last_fail")]
        first = data.get("first_ping", min((t for t in seen if t is not None), default=None))
        return cls(
            registered_at=float(data["registered_at"]),
            first_ping=_opt_float(first),
            last_success=_opt_float(data.get("last_success")),
            last_start=_opt_float(data.get("last_start")),
            last_fail=_opt_float(data.get("last_fail")),
            message=str(data.get("message", "")),
            token_hash=str(data.get("token_hash", "")),
            token_shown=bool(data.get("token_shown", False)),
        )


class HeartbeatMonitor:
    """Deadlines, alerts and tokens of every heartbeat check; see the module
    docstring. Emits an `Alert` only on a transition."""

    def __init__(self, policies: Iterable[HeartbeatPolicy] = (), *, now: float) -> None:
        self._policies: dict[str, HeartbeatPolicy] = {}
        self._beats: dict[str, _Beat] = {}
        self.alerts = Lifecycle()
        self._by_hash: dict[str, str] = {}
        self._unshown: dict[str, str] = {}
        """Plain tokens generated at registration and not handed out yet.
        Memory only: never exported, lost (and regenerated) on restart."""
        self.set_policies(policies, now)

    # --- config ---------------------------------------------------------

    def set_policies(self, policies: Iterable[HeartbeatPolicy], now: float) -> list[Alert]:
        """Apply a new config: new jobs are registered at `now` with a fresh
        token; alerts of removed jobs resolve and their tokens stop working."""
        new = {p.name: p for p in policies}
        alerts = [a for name in self._beats.keys() - new.keys() for a in self._forget(name, now)]
        self._policies = new
        for name in new.keys() - self._beats.keys():
            self._beats[name] = _Beat(registered_at=now)
            self._unshown[name] = self._set_token(name)
        return alerts

    def names(self) -> list[str]:
        """The configured heartbeat checks, sorted."""
        return sorted(self._policies)

    # --- pings and time -------------------------------------------------

    def ping(self, name: str, kind: PingKind, now: float, message: str = "") -> list[Alert]:
        """Take one ping of job `name`; returns the alerts it fires or resolves.

        `message` is the job's own words (the ping body), kept short. A ping
        for an unknown job is ignored (the check may just have been removed).
        """
        if kind not in PING_KINDS:
            raise ValueError(f"ping kind {kind!r}: use one of {', '.join(PING_KINDS)}")
        beat, policy = self._beats.get(name), self._policies.get(name)
        if beat is None or policy is None:
            return []
        if beat.first_ping is None:
            beat.first_ping = now
        if kind == "start":
            beat.last_start = now
            return []
        beat.message = message[:_MAX_MESSAGE_CHARS]
        if kind == "fail":
            beat.last_fail = now
            return self._failed(policy, beat, now)
        beat.last_success = now
        return self._succeeded(policy, now)

    def tick(self, now: float) -> list[Alert]:
        """Time passes: fire `HeartbeatMissed` for every job past its
        deadline. Call every few seconds, and right after `load_state`."""
        # Transitions only, and a failed job pages once: a job with either
        # alert firing is not looked at until a ping changes its state.
        due = [n for n, d in self._pending().items() if now >= d]
        return [
            a
            for n in sorted(due)
            for a in self.alerts.fire(
                key(MISSED, n), missed(self._policies[n], self._beats[n], now)
            )
        ]

    def next_deadline(self) -> float | None:
        """The earliest deadline not yet alerted on, for scheduling `tick`."""
        return min(self._pending().values(), default=None)

    def active_alerts(self) -> list[Alert]:
        """Every alert firing now."""
        return self.alerts.active()

    def status(self, now: float) -> list[dict[str, Any]]:
        """Per job, JSON-able, for the API: deadlines and state, never a token."""
        return [self._status(name, now) for name in self.names()]

    # --- tokens ---------------------------------------------------------

    def check_for_token(self, token: str) -> str | None:
        """The job a ping token belongs to, or None. Unknown, rotated and
        malformed tokens all read the same, so a caller learns nothing about
        which tokens exist."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return None
        return self._by_hash.get(hash_token(token))

    def token_for(self, name: str) -> str | None:
        """The job's token, handed out once: None once it has been shown
        (then `issue_token` rotates it). If the token generated at
        registration was lost in a restart before anyone saw it, a new one is
        made: nobody can hold the old one, so replacing it breaks nothing."""
        beat = self._beats.get(name)
        if beat is None or beat.token_shown:
            return None
        token = self._unshown.pop(name, None) or self._set_token(name)
        beat.token_shown = True
        return token

    def issue_token(self, name: str) -> str:
        """Generate a new token for `name` and return it (shown to the user
        now); the old one stops working at once. KeyError: no such job."""
        if name not in self._beats:
            raise KeyError(name)
        self._unshown.pop(name, None)
        token = self._set_token(name)
        self._beats[name].token_shown = True
        return token

    def token_shown(self, name: str) -> bool:
        """Whether the job's current token has been handed out."""
        beat = self._beats.get(name)
        return beat is not None and beat.token_shown

    def token_hash(self, name: str) -> str | None:
        """The sha256 hex of the job's current token (what the store keeps)."""
        beat = self._beats.get(name)
        return beat.token_hash if beat is not None else None

    def load_token_hashes(self, hashes: Mapping[str, str]) -> None:
        """Adopt token hashes saved at issue time (`Store.token_hashes()`).
        They win over `load_state`, which may predate the last rotation.
        Tokens of jobs no longer configured are ignored."""
        for name, digest in hashes.items():
            beat = self._beats.get(name)
            if beat is not None:
                self._unshown.pop(name, None)
                self._index(name, digest)
                beat.token_shown = True

    # --- persistence ----------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """Deadlines, firing alerts and token hashes, JSON-able."""
        return {
            "version": STATE_VERSION,
            "beats": {name: beat.to_dict() for name, beat in sorted(self._beats.items())},
            "lifecycle": self.alerts.export(),
        }

    def load_state(self, data: Mapping[str, Any], now: float) -> list[Alert]:
        """Restore `export_state` output under the policies already set.

        Deadlines are kept as they were: time the collector spent down counts
        against the job, so the next `tick` fires what passed meanwhile.
        Returns resolves for alerts of jobs gone from the config."""
        if data.get("version") != STATE_VERSION:
            return []
        self.alerts.load(data.get("lifecycle") or {"active": data.get("active", {})})
        for name, saved in data.get("beats", {}).items():
            if name in self._policies:
                self._beats[name] = _Beat.from_dict(saved)
                self._unshown.pop(name, None)  # the token made at __init__ is void
        self._by_hash = {b.token_hash: n for n, b in self._beats.items() if b.token_hash}
        gone = {a.labels.get("check", "") for a in self.alerts.active()} - self._policies.keys()
        return [a for name in sorted(gone) for a in self._forget(name, now)]

    # --- internals ------------------------------------------------------

    def _firing(self, name: str) -> str | None:
        """The alertname firing for job `name` (at most one), if any."""
        return next((a for a in (FAILED, MISSED) if key(a, name) in self.alerts), None)

    def _pending(self) -> dict[str, float]:
        """The deadline of every job past `new` with no alert firing."""
        deadlines = {n: self._beats[n].deadline(p) for n, p in self._policies.items()}
        return {n: d for n, d in deadlines.items() if d is not None and not self._firing(n)}

    def _set_token(self, name: str) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._index(name, hash_token(token))
        return token

    def _index(self, name: str, digest: str) -> None:
        beat = self._beats[name]
        self._by_hash.pop(beat.token_hash, None)
        beat.token_hash = digest
        self._by_hash[digest] = name

    def _failed(self, policy: HeartbeatPolicy, beat: _Beat, now: float) -> list[Alert]:
        note = f"{policy.name} ran again at {stamp(now)}, but reported failure"
        alerts = self._resolve(key(MISSED, policy.name), now, note)
        return alerts + self.alerts.fire(key(FAILED, policy.name), job_failed(policy, beat, now))

    def _succeeded(self, policy: HeartbeatPolicy, now: float) -> list[Alert]:
        note = f"{policy.name} reported success at {stamp(now)}"
        return [
            *self._resolve(key(MISSED, policy.name), now, note),
            *self._resolve(key(FAILED, policy.name), now, note),
        ]

    def _resolve(self, k: str, now: float, resolution: str) -> list[Alert]:
        return self.alerts.resolve(k, now, {"resolution": resolution})

    def _forget(self, name: str, now: float) -> list[Alert]:
        beat = self._beats.pop(name, None)
        if beat is not None:
            self._by_hash.pop(beat.token_hash, None)
        self._unshown.pop(name, None)
        return self.alerts.forget(name, now, "the check was removed from the config")

    def _status(self, name: str, now: float) -> dict[str, Any]:
        policy, beat = self._policies[name], self._beats[name]
        deadline, firing = beat.deadline(policy), self._firing(name)
        late = firing == MISSED or (firing is None and deadline is not None and now >= deadline)
        state = "failed" if firing == FAILED else "missed" if late else "up"
        return {
            "check": name,
            "state": "new" if deadline is None else state,
            "period": policy.period,
            "grace": policy.grace,
            "deadline": deadline,
            "last_success": beat.last_success,
            "last_start": beat.last_start,
            "last_fail": beat.last_fail,
            "running": beat.running(),
            "token_shown": beat.token_shown,
        }


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
