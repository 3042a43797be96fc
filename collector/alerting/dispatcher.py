"""The dispatcher: alert events in, grouped notifications out, on time.
Pure: the async driver calls `push(alert, now)` for every alert event, then
`flush(now)` whenever `next_deadline(now)` has come.

Per group (one route, one set of group_by values):
- the first notification goes `group_wait` after the first alert (0s for
  critical alerts by default, so paging is never delayed);
- later news (a new firing alert, or the resolve of a notified one) waits
  until `group_interval` after the last notification, so thirty checks
  failing together make one page and one follow-up, not thirty. Only news
  more severe than anything already notified in the group skips the wait;
- with no news, a group still firing is re-sent every `repeat_interval`
  (alerts with `repeat=False`, certificate notices, do not trigger it);
- a resolve goes out only for an alert that was notified firing: a blip
  that fired and resolved inside group_wait makes no noise;
- silenced and inhibited alerts are left out; if they still fire when the
  mute ends, they are news then. The resolve of an alert already notified
  goes out even when muted, so no receiver keeps an incident open forever.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.alerting.config import AlertingConfig, Route
from collector.alerting.inhibit import InhibitIndex
from collector.alerting.model import Alert, AlertState, Notification, Severity
from collector.alerting.router import RouteMatch, Router, match
from collector.alerting.rows import Parts, Rows
from collector.alerting.silences import Silences

STATE_VERSION = 1
_RANK: dict[str, int] = {Severity.CRITICAL: 2, Severity.WARNING: 1}


@dataclass
class _Group:
    route_id: str
    key: str
    labels: dict[str, str]
    alerts: dict[str, Alert] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    """When each alert's news may go out (first seen + group_wait)."""
    notified: set[str] = field(default_factory=set)
    """Fingerprints notified as firing and not yet as resolved."""
    last_flush: float | None = None
    last_sent: float | None = None

    def header(self) -> dict[str, Any]:
        """The group's own row (its alerts have a row each, `entry`)."""
        return {
            "route_id": self.route_id,
            "key": self.key,
            "labels": self.labels,
            "last_flush": self.last_flush,
            "last_sent": self.last_sent,
        }

    def entry(self, fp: str) -> dict[str, Any]:
        """The row of the group's alert `fp`."""
        return {
            "route_id": self.route_id,
            "key": self.key,
            "alert": self.alerts[fp].to_dict(),
            "ready": self.ready.get(fp),
            "notified": fp in self.notified,
        }

    @classmethod
    def from_header(cls, data: Mapping[str, Any]) -> _Group:
        return cls(
            route_id=data["route_id"],
            key=data["key"],
            labels=dict(data["labels"]),
            last_flush=data.get("last_flush"),
            last_sent=data.get("last_sent"),
        )

    def add_entry(self, data: Mapping[str, Any]) -> None:
        alert = Alert.from_dict(data["alert"])
        fp = alert.fingerprint
        self.alerts[fp] = alert
        if data.get("ready") is not None:
            self.ready[fp] = float(data["ready"])
        if data.get("notified"):
            self.notified.add(fp)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Group:
        """A group as an older collector saved it, whole (version 1)."""
        group = cls.from_header(data)
        for a in data["alerts"]:
            alert = Alert.from_dict(a)
            group.alerts[alert.fingerprint] = alert
        group.ready = {k: float(v) for k, v in data["ready"].items()}
        group.notified = set(data["notified"])
        return group


def _header_key(route_id: str, key: str) -> str:
    return json.dumps([route_id, key])


def _entry_key(route_id: str, key: str, fp: str) -> str:
    return json.dumps([route_id, key, fp])


class Dispatcher:
    """Grouping, timing, dedup, inhibition and silences; see the module doc."""

    PARTS = ("groups", "alerts")
    """The parts of `export_state`, each saved as rows (`take_rows`)."""

    def __init__(self, config: AlertingConfig, silences: Silences | None = None) -> None:
        self.router = Router(config.route)
        self.silences = silences or Silences(config.windows)
        """API silences and config windows; the API handler adds to it."""
        self._groups: dict[tuple[str, str], _Group] = {}
        self._firing: dict[str, Alert] = {}  # inhibition sources, by fingerprint
        self._inhibit = InhibitIndex(config.inhibit_rules)
        self.changes = Parts(self.PARTS)
        """What changed in each part of `export_state` since `take_rows`."""

    def push(self, alert: Alert, now: float) -> None:
        """Take one alert event from the evaluator."""
        fp = alert.fingerprint
        if alert.notice:
            pass  # sent once, never a source of inhibition
        elif alert.state is AlertState.FIRING:
            if fp not in self._firing:
                self._inhibit.add(fp, alert.labels)
            self._firing[fp] = alert
        elif self._firing.pop(fp, None) is not None:
            self._inhibit.remove(fp, alert.labels)
        for where in self.router.route(alert):
            self._push_to(where, alert, fp, now)

    def flush(self, now: float) -> list[Notification]:
        """The notifications due at `now`; call at `next_deadline`."""
        self.silences.prune(now)
        out: list[Notification] = []
        for group in list(self._groups.values()):
            due = self._due(group, now)
            if due is not None and due <= now:
                out += self._send(group, now)
        return out

    def next_deadline(self, now: float) -> float | None:
        """When `flush` next has work (may be in the past); None: idle."""
        dues = [d for g in self._groups.values() if (d := self._due(g, now)) is not None]
        change = self.silences.next_change(now)
        alerts = (a for g in self._groups.values() for a in g.alerts.values())
        if change is not None and any(
            a.state is AlertState.FIRING and self.silences.is_silenced(a.labels, now)
            for a in alerts
        ):
            dues.append(change)  # a silence or window ending makes its still-firing alerts news
        return min(dues, default=None)

    def muted(self, alert: Alert, now: float) -> bool:
        """Silenced, or inhibited by another firing alert."""
        return self._inhibit.inhibited(alert.fingerprint, alert.labels) or (
            self.silences.is_silenced(alert.labels, now)
        )

    def reconfigure(self, config: AlertingConfig, now: float) -> None:
        """Apply a new config. Groups whose route is gone or regrouped start
        over under the new tree (their alerts are news there)."""
        self.router = Router(config.route)
        self._inhibit = InhibitIndex(config.inhibit_rules)
        self.silences.windows = config.windows
        self._adopt(list(self._groups.values()), now)

    def export_state(self) -> dict[str, Any]:
        """Group state (alerts, last notification times), JSON-able, so a
        restart neither pages again nor forgets to send the resolve: by
        part and key (rows, see `rows.py`), a row per group and one per
        alert of a group (one group may hold thousands)."""
        groups = self._groups.values()
        return {
            "groups": {_header_key(g.route_id, g.key): g.header() for g in groups},
            "alerts": {
                _entry_key(g.route_id, g.key, fp): g.entry(fp) for g in groups for fp in g.alerts
            },
        }

    def take_rows(self, most: int | None = None) -> dict[str, Rows]:
        """The rows of `export_state` that changed since the last call, by
        part, at most `most` a part (`rows.Parts`)."""
        return self.changes.take(
            {"groups": self._header_row, "alerts": self._entry_row}, self.export_state, most
        )

    def load_state(self, data: Mapping[str, Any], now: float) -> None:
        """Restore `export_state` output under the current config (or an
        older collector's, with every group whole in one list), into a
        dispatcher that holds no group yet."""
        if "version" in data:
            if data["version"] == STATE_VERSION:
                self._adopt([_Group.from_dict(g) for g in data["groups"]], now)
                self.changes.unsaved()  # not in rows yet
            return
        groups: dict[tuple[str, str], _Group] = {}
        for header in data.get("groups", {}).values():
            group = _Group.from_header(header)
            groups[group.route_id, group.key] = group
        stray: dict[tuple[str, str], _Group] = {}
        for entry in data.get("alerts", {}).values():
            gid = entry["route_id"], entry["key"]
            owner = groups.get(gid)
            if owner is None:  # not written apart from its group; re-routed if it fires
                owner = stray.setdefault(gid, _Group(*gid, {}))
            owner.add_entry(entry)
        self._adopt(groups.values(), now, stray.values())

    def _header_row(self, k: str) -> dict[str, Any] | None:
        route_id, key = json.loads(k)
        group = self._groups.get((route_id, key))
        return None if group is None else group.header()

    def _entry_row(self, k: str) -> dict[str, Any] | None:
        route_id, key, fp = json.loads(k)
        group = self._groups.get((route_id, key))
        return None if group is None or fp not in group.alerts else group.entry(fp)

    def _mark(self, group: _Group, fp: str | None = None) -> None:
        """Note a change to `group`'s row, or to its alert `fp`'s."""
        if fp is None:
            self.changes.mark("groups", _header_key(group.route_id, group.key))
        else:
            self.changes.mark("alerts", _entry_key(group.route_id, group.key, fp))

    # --- internals ------------------------------------------------------

    def _adopt(self, groups: Iterable[_Group], now: float, stray: Iterable[_Group] = ()) -> None:
        """Keep `groups` whose route still groups their alerts as before;
        the alerts of the others, and of `stray` groups, are pushed again
        (their rows go)."""
        self._groups = {}
        gone = list(stray)
        for group in groups:
            route = self.router.find(group.route_id)
            if route is None or any(
                match(route, a.labels).group_key != group.key for a in group.alerts.values()
            ):
                gone.append(group)
            else:
                self._groups[group.route_id, group.key] = group
        orphans: list[Alert] = []
        for group in gone:
            orphans += group.alerts.values()
            self._mark(group)
            for fp in group.alerts:
                self._mark(group, fp)
        self._firing = {
            fp: a
            for g in self._groups.values()
            for fp, a in g.alerts.items()
            if a.state is AlertState.FIRING
        }
        self._inhibit = InhibitIndex(self._inhibit.rules)
        for fp, alert in self._firing.items():
            self._inhibit.add(fp, alert.labels)
        for alert in orphans:
            if alert.state is AlertState.FIRING:
                self.push(alert, now)

    def _route(self, group: _Group) -> Route:
        route = self.router.find(group.route_id)
        assert route is not None  # _adopt drops groups of removed routes
        return route

    def _push_to(self, where: RouteMatch, alert: Alert, fp: str, now: float) -> None:
        gid = (where.route_id, where.group_key)
        group = self._groups.get(gid)
        if alert.state is AlertState.RESOLVED and (group is None or fp not in group.notified):
            if group is not None:  # never notified: drop it quietly
                group.alerts.pop(fp, None)
                group.ready.pop(fp, None)
                self._mark(group, fp)
                self._drop_if_empty(group)
            return
        if group is None:
            group = self._groups[gid] = _Group(
                where.route_id, where.group_key, dict(where.group_labels)
            )
            self._mark(group)
        held = group.alerts.get(fp)
        if alert.state is AlertState.RESOLVED:
            group.ready[fp] = now
        elif held is None:
            group.ready[fp] = now + self._route(group).wait_for(alert.severity)
        elif held == alert:
            return  # held as it is (a restart hands over what fires)
        group.alerts[fp] = alert
        self._mark(group, fp)

    def _news(self, group: _Group, now: float) -> list[Alert]:
        return [
            a
            for fp, a in group.alerts.items()
            if a.state is AlertState.RESOLVED
            or (fp not in group.notified and not self.muted(a, now))
        ]

    def _due(self, group: _Group, now: float) -> float | None:
        route = self._route(group)
        news = self._news(group, now)
        if news:
            due = min(group.ready[a.fingerprint] for a in news)
            if group.last_flush is not None and not self._more_severe(group, news):
                due = max(due, group.last_flush + route.group_interval)
            return due
        if group.last_sent is not None and self._repeatable(group, now):
            return group.last_sent + route.repeat_interval
        return None

    def _more_severe(self, group: _Group, news: list[Alert]) -> bool:
        """Whether news outranks everything the group already notified."""
        notified = [_RANK.get(group.alerts[fp].severity, 0) for fp in group.notified]
        fresh = [_RANK.get(a.severity, 0) for a in news if a.state is AlertState.FIRING]
        return max(fresh, default=-1) > max(notified, default=-1)

    def _repeatable(self, group: _Group, now: float) -> bool:
        return any(
            a.state is AlertState.FIRING and a.repeat and not self.muted(a, now)
            for a in group.alerts.values()
        )

    def _send(self, group: _Group, now: float) -> list[Notification]:
        alerts = sorted(
            group.alerts.values(), key=lambda a: (a.state != AlertState.FIRING, a.fingerprint)
        )
        batch = tuple(a for a in alerts if a.state is AlertState.RESOLVED or not self.muted(a, now))
        news = frozenset(
            a.fingerprint
            for a in batch
            if a.state is AlertState.FIRING and a.fingerprint not in group.notified
        )
        group.last_flush = now
        self._mark(group)
        for alert in batch:
            fp = alert.fingerprint
            if alert.state is AlertState.RESOLVED or alert.notice:  # done with it
                group.notified.discard(fp)
                group.alerts.pop(fp)
                group.ready.pop(fp, None)
                self._mark(group, fp)
            elif fp not in group.notified:
                group.notified.add(fp)
                self._mark(group, fp)
        self._drop_if_empty(group)
        if not batch:
            return []
        group.last_sent = now
        receivers = self._route(group).receivers
        return [Notification(r, group.key, dict(group.labels), batch, news) for r in receivers]

    def _drop_if_empty(self, group: _Group) -> None:
        if not group.alerts:
            self._groups.pop((group.route_id, group.key), None)
            self._mark(group)
