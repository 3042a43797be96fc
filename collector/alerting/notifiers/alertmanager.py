"""`alertmanager`: POST `{url}/api/v2/alerts`, leaving grouping, silencing and
routing to an existing Alertmanager.

Alertmanager resolves an alert by itself once its `endsAt` passes, so a
firing alert is posted with `endsAt = now + 4 x max(resend_interval, 60 s)`
(what Prometheus does) and must be posted again before that lapses. This notifier
remembers the firing alerts it was sent; **the collector's driver calls
`refresh(now)` every `resend_interval`** (default 60 s), which re-posts those
not posted within the last `resend_interval`, and retries resolves whose
post failed. A resolved alert is posted with `endsAt` = its end time.

After a collector restart the memory is empty: pass the firing alerts the
dispatcher restored to `track()` so they keep being refreshed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from collector.alerting.model import Alert, AlertState, Notification
from collector.alerting.notifiers import render
from collector.alerting.notifiers.base import BaseNotifier, Context, redact_url
from collector.alerting.receivers import AlertmanagerSpec

RESEND_WINDOW = 4
"""endsAt lies this many resend intervals ahead: three refreshes may fail
before Alertmanager resolves an alert that is still firing."""
MIN_RESEND = 60.0
"""The interval endsAt is reckoned from is at least this (Prometheus'
`--rules.alert.resend-delay` default): with `resend_interval: 2s` a collector
restart of 8 s made Alertmanager resolve a firing alert by itself, and the
restored collector's re-post paged again. Resolves are posted explicitly, so
a longer endsAt only keeps an alert of a collector that died for good open
longer (and `VantageCollectorDown` pages for that)."""


@dataclass
class _Tracked:
    alert: Alert
    posted_at: float | None = None
    """When Alertmanager last accepted it; None: not yet."""


class AlertmanagerNotifier(BaseNotifier):
    """Posts alerts to Alertmanager and keeps firing ones alive; see the module doc."""

    def __init__(self, name: str, spec: AlertmanagerSpec, context: Context) -> None:
        super().__init__(name, context, spec.timeout)
        self.spec = spec
        self.url = spec.url.rstrip("/") + "/api/v2/alerts"
        self._tracked: dict[str, _Tracked] = {}
        redact_url(spec.url, whole=False)

    @property
    def resend_interval(self) -> float:
        """How often the driver should call `refresh`, in seconds."""
        return self.spec.resend_interval

    async def deliver(self, notification: Notification) -> None:
        """Post the group's alerts; remember them even if the post fails,
        so the next `refresh` tries again."""
        self.track(notification.alerts)
        await self._post(notification.alerts, self.context.clock())

    def track(self, alerts: Iterable[Alert]) -> None:
        """Remember `alerts`: firing ones to keep alive, resolved ones until posted."""
        for alert in alerts:
            self._tracked[alert.fingerprint] = _Tracked(alert)

    def tracked(self) -> list[Alert]:
        """The alerts this notifier keeps alive or has yet to resolve."""
        return [t.alert for t in self._tracked.values()]

    async def refresh(self, now: float, firing: Collection[str] | None = None) -> None:
        """Re-post what is due at `now`; counted like a send.

        `firing`, when given, is the fingerprints the collector still has
        firing: remembered alerts missing from it are resolved at `now`, so
        none stays open in Alertmanager after the collector forgot it.
        """
        if firing is not None:
            self._resolve_missing(firing, now)
        if due := self.due(now):
            await self.account(due, lambda: self._post(due, now))

    def due(self, now: float) -> list[Alert]:
        """Alerts never accepted, and firing ones last posted a resend interval ago."""
        return [
            t.alert
            for t in self._tracked.values()
            if t.posted_at is None or now - t.posted_at >= self.spec.resend_interval
        ]

    def body(self, alert: Alert, now: float) -> dict[str, Any]:
        """One alert of the v2 API's `postableAlerts`."""
        if alert.state is AlertState.FIRING:
            ends_at = now + RESEND_WINDOW * max(self.spec.resend_interval, MIN_RESEND)
        else:
            ends_at = now if alert.ends_at is None else alert.ends_at
        out = {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "startsAt": render.rfc3339(alert.starts_at),
            "endsAt": render.rfc3339(ends_at),
        }
        if self.spec.generator_url:
            out["generatorURL"] = self.spec.generator_url
        return out

    async def _post(self, alerts: Sequence[Alert], now: float) -> None:
        await self.post(self.url, json=[self.body(a, now) for a in alerts])
        for alert in alerts:
            tracked = self._tracked.get(alert.fingerprint)
            if tracked is None or tracked.alert is not alert:
                continue  # a newer event for it came in while we posted
            if alert.state is AlertState.RESOLVED:
                del self._tracked[alert.fingerprint]
            else:
                tracked.posted_at = now

    def _resolve_missing(self, firing: Collection[str], now: float) -> None:
        for fp, tracked in self._tracked.items():
            if tracked.alert.state is AlertState.FIRING and fp not in firing:
                resolved = replace(tracked.alert, state=AlertState.RESOLVED, ends_at=now)
                self._tracked[fp] = _Tracked(resolved)
