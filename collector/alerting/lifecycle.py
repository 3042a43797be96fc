"""The one alert lifecycle: fire, resolve, forget, key and labels, shared by
check alerts, heartbeats, certificates and agent alerts. Pure.

An alert is held under a *key* (`CheckDown|home`, `HeartbeatMissed|backup`)
while it fires. `fire` emits it once (transitions only), `resolve` emits its
resolved copy once, `forget` resolves every alert of a check that left the
config. A firing alert whose text changed (the checks an `AgentDown` names)
is *refreshed*: kept current without being news (`take_refreshed`).

**Damping** (flap damping, see `flapping.py`): while a check is damped its
alerts still fire and resolve here, but nothing is emitted; `undamp` then
emits the difference between what receivers last heard and what holds now,
so a flapping check ends with one notice of its final state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from collector.alerting.model import Alert, AlertState
from collector.alerting.rows import Parts, Rows

UNDAMPED = frozenset({"CheckFlapping"})
"""Alertnames that damping never hides: they are the damping's own notice."""


def key(*parts: str) -> str:
    """The lifecycle key of an alert: `CheckDown|home`."""
    return "|".join(parts)


def check_labels(
    own: Mapping[str, str],
    *,
    alertname: str,
    check: str,
    check_type: str,
    severity: str,
    host: str | None = None,
) -> dict[str, str]:
    """The labels of a check's alert: the check's own labels, then ours on
    top (`severity` is ours: the alert decides it, the check's label only
    sets the default). `host` lets an NXDOMAIN inhibit one host's alerts."""
    labels = {k: v for k, v in own.items() if k != "severity"}
    labels |= {
        "alertname": alertname,
        "check": check,
        "check_type": check_type,
        "severity": severity,
    }
    if host:
        labels["host"] = host
    return labels


class Lifecycle:
    """Firing alerts by key; emits only transitions. See the module doc."""

    PARTS = ("active", "damped")
    """The parts of `export`, each saved as rows (`take_rows`)."""

    def __init__(self) -> None:
        self._active: dict[str, Alert] = {}
        self._refreshed: list[Alert] = []
        self._damped: dict[str, dict[str, Alert]] = {}
        """Damped check -> what receivers were last told was firing."""
        self.changes = Parts(self.PARTS)
        """What changed in each part of `export` since `take_rows`."""

    # --- views ------------------------------------------------------------

    def get(self, k: str) -> Alert | None:
        """The alert firing under key `k`, if any."""
        return self._active.get(k)

    def __contains__(self, k: object) -> bool:
        return k in self._active

    def keys(self, prefix: str = "") -> list[str]:
        """Keys of firing alerts starting with `prefix`."""
        return [k for k in self._active if k.startswith(prefix)]

    def active(self) -> list[Alert]:
        """Every alert firing now (damped ones included: they are true)."""
        return list(self._active.values())

    def shown(self) -> list[Alert]:
        """The firing alerts receivers hear of: not those damping hides."""
        return [a for a in self._active.values() if not self._hidden(a)]

    def damped(self) -> set[str]:
        """Checks whose alerts are damped now."""
        return set(self._damped)

    # --- transitions ------------------------------------------------------

    def fire(self, k: str, alert: Alert, *, refresh: bool = False) -> list[Alert]:
        """Fire `alert` under `k`; returns it, or [] when it already fires.
        With `refresh`, an already firing alert takes the new text."""
        current = self._active.get(k)
        if current is not None:
            if refresh and current.annotations != alert.annotations:
                self._active[k] = replace(alert, starts_at=current.starts_at)
                self.changes.mark("active", k)
                self._refreshed.append(self._active[k])
            return []
        self._active[k] = alert
        self.changes.mark("active", k)
        return [] if self._hidden(alert) else [alert]

    def resolve(
        self,
        k: str,
        now: float,
        annotations: Mapping[str, str],
        details: Mapping[str, Any] | None = None,
    ) -> list[Alert]:
        """Resolve the alert under `k` with extra `annotations` (and new
        `details`, else its own); [] when nothing fires under `k`."""
        alert = self._active.pop(k, None)
        if alert is None:
            return []
        self.changes.mark("active", k)
        resolved = _resolved(alert, now, annotations, details)
        return [] if self._hidden(alert) else [resolved]

    def notify(self, alert: Alert) -> list[Alert]:
        """Emit a one-shot notice (`Alert.notice`): never held, never resolved."""
        return [replace(alert, notice=True, repeat=False)]

    def forget(self, check: str, now: float, note: str) -> list[Alert]:
        """Resolve every alert of `check` (it left the config)."""
        if self._damped.pop(check, None) is not None:
            self.changes.mark("damped", check)
        keys = sorted(k for k, a in self._active.items() if a.labels.get("check") == check)
        return [a for k in keys for a in self.resolve(k, now, {"resolution": note})]

    def take_refreshed(self) -> list[Alert]:
        """Firing alerts whose text changed since the last call."""
        out, self._refreshed = self._refreshed, []
        return out

    # --- damping ----------------------------------------------------------

    def damp(self, check: str) -> None:
        """Stop emitting `check`'s alerts (except `UNDAMPED` ones)."""
        if check not in self._damped:
            self.changes.mark("damped", check)
            self._damped[check] = {
                k: a for k, a in self._active.items() if a.labels.get("check") == check
            }

    def undamp(self, check: str, now: float, note: str) -> list[Alert]:
        """Emit again: resolves of what receivers think fires and no longer
        does, and whatever fires now that they were not told about."""
        told = self._damped.pop(check, None)
        if told is None:
            return []
        self.changes.mark("damped", check)
        now_firing = {
            k: a
            for k, a in self._active.items()
            if a.labels.get("check") == check and a.name not in UNDAMPED
        }
        note_ = {"resolution": note}
        gone = [_resolved(a, now, note_, None) for k, a in told.items() if k not in now_firing]
        return gone + [a for k, a in now_firing.items() if k not in told]

    # --- persistence ------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """JSON-able, by part and key (rows, see `rows.py`): the firing
        alerts and what damped checks last told."""
        return {
            "active": {k: a.to_dict() for k, a in sorted(self._active.items())},
            "damped": {c: _told(told) for c, told in self._damped.items()},
        }

    def take_rows(self, most: int | None = None) -> dict[str, Rows]:
        """The rows of `export` that changed since the last call, by part,
        at most `most` a part (`rows.Parts`)."""
        active, damped = self._active, self._damped
        return self.changes.take(
            {
                "active": lambda k: a.to_dict() if (a := active.get(k)) is not None else None,
                "damped": lambda c: _told(t) if (t := damped.get(c)) is not None else None,
            },
            self.export,
            most,
        )

    def load(self, data: Mapping[str, Any]) -> None:
        """Inverse of `export` (an old state's bare `active` dict works too),
        from the rows it was saved as: call `changes.unsaved` when it was not."""
        self._active = {k: Alert.from_dict(a) for k, a in data.get("active", {}).items()}
        self._damped = {
            c: {k: Alert.from_dict(a) for k, a in told.items()}
            for c, told in data.get("damped", {}).items()
        }

    def _hidden(self, alert: Alert) -> bool:
        return alert.labels.get("check", "") in self._damped and alert.name not in UNDAMPED


def _told(told: Mapping[str, Alert]) -> dict[str, Any]:
    return {k: a.to_dict() for k, a in told.items()}


def _resolved(
    alert: Alert, now: float, annotations: Mapping[str, str], details: Mapping[str, Any] | None
) -> Alert:
    notes = {**alert.annotations, **annotations}
    if "summary" not in annotations and (resolution := annotations.get("resolution")):
        # The firing summary ("monitoring is blind for ...", "p95 latency
        # 953ms over ...") would tell a reader the problem still holds: the
        # resolve's one line is what ended it.
        # Like a firing summary it names the subject, not the alertname
        # (receivers put the title before it).
        subject = alert.labels.get("check") or alert.labels.get("agent", "")
        named = not subject or subject in resolution
        notes["summary"] = resolution if named else f"{subject}: {resolution}"
    return replace(
        alert,
        state=AlertState.RESOLVED,
        ends_at=now,
        annotations=notes,
        details=dict(alert.details) if details is None else dict(details),
    )
