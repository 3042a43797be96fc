"""The async edge of alerting: feeds samples and clock ticks to the pure
evaluator and heartbeat monitor, routes their alerts through the dispatcher
to the notifiers, and keeps all of it in SQLite so a restart neither pages
again nor forgets an open incident.

    samples ─→ Evaluator ─┐
    pings ──→ Heartbeats ─┼→ Dispatcher (group, wait, dedup, inhibit, silence) ─→ notifiers
    clock ──→ tick() ─────┘                 └→ Store (state, incidents, silences)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
import structlog

from collector.alerting.config import AlertingConfig
from collector.alerting.deploys import Deploys
from collector.alerting.dispatcher import Dispatcher
from collector.alerting.evaluator import Evaluator
from collector.alerting.heartbeats import HeartbeatMonitor, HeartbeatPolicy, PingKind
from collector.alerting.lifecycle import Lifecycle
from collector.alerting.model import Alert, AlertState, Notification
from collector.alerting.notifiers import build_notifiers
from collector.alerting.notifiers.alertmanager import AlertmanagerNotifier
from collector.alerting.notifiers.base import Notifier
from collector.alerting.policies import policies
from collector.alerting.policy import CheckPolicy
from collector.alerting.rows import Owner, Rows
from collector.alerting.saving import STATE_VERSION
from collector.alerting.silences import Silence
from collector.metrics import CollectorMetrics
from collector.model import Sample
from collector.store import Store
from common.config import Config

log = structlog.get_logger("collector.alerting")

_TICK = 1.0
"""Seconds between evaluations: stale regions and heartbeat deadlines are
noticed within a second. A wake-up (new alerts, a silence) flushes the
dispatcher at once but does not evaluate every check again."""
_SAVE_EVERY = 10.0
"""State is saved at least this often."""
_RELOAD_CHUNK = 1000
"""Checks a reload applies between two turns of the event loop (~20 ms)."""
_SAVE_ROWS = 100
"""Check rows written per save (~40 µs each with their JSON); more wait for
the next save, within _SAVE_BACKLOG. At 50k checks and 2,500 results/s, ~100
change a second."""
_SAVE_ALERT_ROWS = 50
"""Rows of each part of the alerts' state written per save (~25 µs each):
when 5,000 alerts fire at once the lifecycle and the dispatcher each have
5,000 rows to write, and writing them in one save held the loop 0.4 s."""
_SAVE_BACKLOG = 0.25
"""Seconds between saves while rows wait: 400 check rows and 200 of each
other part a second, in saves of ~20 ms (saves of 300 and 200 a second,
~0.1 s each on a busy machine, were the longest holds of the event loop
after a flood at 50,000 checks)."""
_HEADER = {
    "version": STATE_VERSION,
    "by_rows": True,
    "alerts_by_rows": True,
    "deploys_by_rows": True,
}
"""The evaluator's blob once its checks, the alerts and the deploy records
are kept by row: a blob holding `checks`, `lifecycle` or `deploys` (and a
`dispatcher` or `deploys` blob) is an older collector's, read once and
replaced by rows."""
_HEADER_BLOBS = {"evaluator": _HEADER, "dispatcher": None, "deploys": None}
"""Written with the first rows after a start; None deletes an older blob."""
_SAVE_DIRTY = 1.0
"""A change is saved within this many seconds, not on every change: in an
alert storm each save would write the whole state again."""


class AlertingService:
    """Owns the evaluator, heartbeats, dispatcher and notifiers of one collector."""

    def __init__(
        self, store: Store, metrics: CollectorMetrics, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.clock = clock
        now = clock()
        self.evaluator = Evaluator(now=now, deploys=Deploys())
        self.heartbeats = HeartbeatMonitor(now=now)
        self.dispatcher: Dispatcher | None = None
        self.alerting: AlertingConfig | None = None
        self.notifiers: dict[str, Notifier] = {}
        self.session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._dirty = False
        self._whole = False
        """The saved state is a blob from before check rows: the first save
        writes every check, then replaces the blob."""
        self._saved_at = 0.0
        self._backlog = False
        """Rows were left for the next save: it comes within _SAVE_BACKLOG."""
        self._ticked_at = float("-inf")
        self._header_saved = False
        """The evaluator's header blob says what is kept by row (written
        with the first rows after a start)."""
        self._sending: set[asyncio.Task[None]] = set()
        self._flapping: set[str] = set()
        self.agents_connected: Callable[[], int] | None = None
        """How many agents have an open stream (set by the collector): no
        agent at all makes `MonitoringBlind` fire without waiting for every
        region to go stale."""

    # -- configuration -------------------------------------------------

    def configure(
        self,
        config: Config,
        alerting: AlertingConfig,
        prepared: tuple[list[CheckPolicy], list[HeartbeatPolicy]] | None = None,
    ) -> None:
        """Apply checks and routing at once (at start). `prepared` is
        `policies(config)` built off the event loop (~0.3 s at 10,000 checks)."""
        now = self.clock()
        probed, beats = prepared or policies(config)
        alerts = self.evaluator.set_policies(probed, now)
        self._configure_rest(alerting, beats, alerts, now)

    async def reconfigure(
        self,
        config: Config,
        alerting: AlertingConfig,
        prepared: tuple[list[CheckPolicy], list[HeartbeatPolicy]] | None = None,
    ) -> None:
        """`configure` for a reload, without holding the event loop: what
        changed is worked out in a thread, and applied `_RELOAD_CHUNK`
        checks at a time (a reload of 50,000 checks took ~0.5 s at once)."""
        if prepared is None:
            prepared = await asyncio.to_thread(policies, config)
        probed, beats = prepared
        plan = await asyncio.to_thread(self.evaluator.plan, probed)
        now = self.clock()
        alerts: list[Alert] = []
        for part in self.evaluator.apply(plan, now, _RELOAD_CHUNK):
            alerts += part
            await asyncio.sleep(0)
        self._configure_rest(alerting, beats, alerts, now)

    def _configure_rest(
        self,
        alerting: AlertingConfig,
        beats: list[HeartbeatPolicy],
        alerts: list[Alert],
        now: float,
    ) -> None:
        alerts += self.heartbeats.set_policies(beats, now)
        self.alerting = alerting
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(alerting)
        else:
            self.dispatcher.reconfigure(alerting, now)
        if self.session is not None:
            self.notifiers = self._build_notifiers(alerting)
            self._track_restored()  # new Alertmanager notifiers start with no memory
        self._push(alerts, now)

    def _build_notifiers(self, alerting: AlertingConfig) -> dict[str, Notifier]:
        assert self.session is not None
        return build_notifiers(alerting, self.session, self.metrics.notifications, clock=self.clock)

    def restore(self) -> None:
        """Load saved state; call once after the first `configure`."""
        now, d = self.clock(), self._dispatcher()
        saved = self._saved_evaluator()
        alerts = self.evaluator.load_state(saved, now)
        alerts += self.heartbeats.load_state(self.store.load_state("heartbeats") or {}, now)
        self.heartbeats.load_token_hashes(self.store.token_hashes())
        if saved.get("alerts_by_rows"):
            d.load_state(self._load_parts("dispatcher", d.PARTS), now)
        else:  # an older collector's blob, replaced by rows at the next save
            d.load_state(self.store.load_state("dispatcher") or {}, now)
        d.silences.load_state(self.store.list_silences())
        for deploy in self.store.deploys_since(now - 3600):
            self.evaluator.deploys.record(deploy["service"], deploy["version"], deploy["at"])
        # Handing the dispatcher what is already firing is idempotent: it
        # knows what it notified before the restart, so nothing pages twice.
        # These are not new events, so they are neither logged nor counted.
        # A damped check's alerts stay hidden, as they were before it.
        for alert in [*self.evaluator.alerts.shown(), *self.heartbeats.alerts.shown()]:
            d.push(alert, now)
        self._push(alerts, now)
        log.info(
            "alerting.restored",
            firing=len(self.evaluator.active_alerts()),
            incidents=len(self.evaluator.incidents()),
        )

    def _saved_evaluator(self) -> dict[str, Any]:
        """The evaluator's saved state: its header blob, with the checks and
        the alerts from their rows (older collectors' blobs hold them)."""
        data = self.store.load_state("evaluator") or {}
        if data.get("by_rows"):
            data["checks"] = self.store.load_rows("evaluator.checks")
        else:  # the blob is replaced only once all its checks are in rows
            self._whole = "checks" in data
        if data.get("alerts_by_rows"):
            data["lifecycle"] = self._load_parts("lifecycle", Lifecycle.PARTS)
        else:  # not in rows yet
            self.evaluator.alerts.changes.unsaved()
        if data.get("deploys_by_rows"):
            data["deploys"] = Deploys.from_rows(self._load_parts("deploys", Deploys.PARTS))
        else:  # an older collector's: in their own blob, or in the evaluator's
            data.setdefault("deploys", self.store.load_state("deploys") or {})
            self.evaluator.deploys.changes.unsaved()
        return data

    def _load_parts(self, owner: str, parts: Iterable[str]) -> dict[str, Any]:
        """The rows of each of `owner`'s `parts` (see `rows.py`)."""
        return {part: self.store.load_rows(f"{owner}.{part}") for part in parts}

    # -- inputs --------------------------------------------------------

    def observe(self, samples: Iterable[Sample], now: float) -> None:
        """Deduplicated samples from the gRPC edge."""
        alerts = self.evaluator.observe_all(samples, now)
        if alerts:
            self._push(alerts, now)

    def ping(self, token: str, kind: PingKind, message: str = "") -> str | None:
        """A heartbeat ping; returns the check name, or None for an unknown token."""
        name = self.heartbeats.check_for_token(token)
        if name is None:
            return None
        now = self.clock()
        self._push(self.heartbeats.ping(name, kind, now, message), now)
        self._dirty = True
        return name

    def issue_token(self, name: str, rotate: bool) -> str | None:
        """The heartbeat token, shown once (or a new one when `rotate`);
        KeyError when there is no heartbeat check called `name`."""
        if name not in self.heartbeats.names():
            raise KeyError(name)
        token = self.heartbeats.issue_token(name) if rotate else self.heartbeats.token_for(name)
        digest = self.heartbeats.token_hash(name)
        if token is not None and digest is not None:
            self.store.save_token_hash(name, digest)
            self._dirty = True
        return token

    def record_deploy(self, service: str, version: str, at: float) -> None:
        """A deploy from the API; alert texts name it."""
        self.evaluator.deploys.record(service, version, at)
        self.store.record_deploy(service, version, at)
        self._dirty = True

    def add_silence(self, silence: Silence) -> Silence:
        """A silence from the API."""
        added = self._dispatcher().silences.add(silence)
        self.store.save_silence(added.to_dict())
        self._wake.set()
        return added

    def expire_silence(self, silence_id: str) -> bool:
        """End a silence now."""
        done = self._dispatcher().silences.expire(silence_id, self.clock())
        if done:
            self.store.delete_silence(silence_id)
        return done

    # -- the loop ------------------------------------------------------

    async def run(self) -> None:
        """Tick, flush and send until cancelled."""
        self.session = aiohttp.ClientSession()
        try:
            assert self.alerting is not None
            self.notifiers = self._build_notifiers(self.alerting)
            self._track_restored()
            while True:
                await self._step()
        finally:
            self.save(force=True)
            for task in list(self._sending):
                task.cancel()
            await self.session.close()

    async def _step(self) -> None:
        now = self.clock()
        if now - self._ticked_at >= _TICK:
            self._ticked_at = now
            connected = self.agents_connected() if self.agents_connected else None
            for part in self.evaluator.tick_steps(now, connected):
                if part:
                    self._push(part, now)
                await asyncio.sleep(0)  # a flood's SLO evaluations, in slices
            self._push(self.heartbeats.tick(now), now)
            self._refresh(now)
            self._export_flapping()
        for notification in self._dispatcher().flush(now):
            self._send(notification)
        await self._refresh_alertmanagers(now)
        self.save()
        delay = self._ticked_at + _TICK - now
        if self._backlog:
            delay = min(delay, _SAVE_BACKLOG)
        deadline = self._dispatcher().next_deadline(now)
        if deadline is not None:
            delay = min(delay, deadline - now)
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, delay))

    def _push(self, alerts: Iterable[Alert], now: float) -> None:
        dispatcher = self._dispatcher()
        for alert in alerts:
            self._dirty = True
            self.metrics.alerts.labels(alert.name, alert.state.value).inc()
            log.info(
                "alert." + alert.state.value,
                alertname=alert.name,
                fingerprint=alert.fingerprint,
                labels=dict(alert.labels),
                summary=alert.annotations.get("summary"),
            )
            self._record_incident(alert)
            dispatcher.push(alert, now)
        self._wake.set()

    def _refresh(self, now: float) -> None:
        """Firing alerts whose text changed (the checks an `AgentDown` names)
        replace their old copy: not news, but what a repeat or resolve shows."""
        dispatcher = self._dispatcher()
        for alert in self.evaluator.alerts.take_refreshed():
            dispatcher.push(alert, now)
            self._dirty = True

    def _export_flapping(self) -> None:
        flapping = self.evaluator.flapping()
        gauge = self.metrics.check_flapping
        for check in self._flapping - flapping:
            gauge.remove(check)
        for check in flapping - self._flapping:
            gauge.labels(check).set(1)
        self._flapping = flapping

    def _record_incident(self, alert: Alert) -> None:
        incident = alert.details.get("incident")
        if isinstance(incident, dict):
            self.store.upsert_incident({**incident, "fingerprint": alert.fingerprint})

    def _send(self, notification: Notification) -> None:
        notifier = self.notifiers.get(notification.receiver)
        if notifier is None:
            log.error("notify.no_receiver", receiver=notification.receiver)
            return
        log.info(
            "notify.sending",
            receiver=notification.receiver,
            state=notification.state.value,
            group=notification.group_key,
            alerts=[a.fingerprint for a in notification.alerts],
        )
        task = asyncio.get_running_loop().create_task(notifier.send(notification))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        self._dirty = True

    async def _refresh_alertmanagers(self, now: float) -> None:
        due = [
            n for n in self.notifiers.values() if isinstance(n, AlertmanagerNotifier) and n.due(now)
        ]
        if not due:
            return  # the usual tick: nothing to re-post, so no firing set to build
        firing = {a.fingerprint for a in self.active_alerts()}
        for notifier in due:
            await notifier.refresh(now, firing)

    def _track_restored(self) -> None:
        router = self._dispatcher().router
        for alert in self.active_alerts():
            for match in router.route(alert):
                for name in match.receivers:
                    notifier = self.notifiers.get(name)
                    if isinstance(notifier, AlertmanagerNotifier):
                        notifier.track([alert])

    def save(self, force: bool = False) -> None:
        """Persist state: within _SAVE_DIRTY seconds of a change, at least
        every _SAVE_EVERY seconds, and at once when `force`d (shutdown).

        State is written by row, in one transaction: the evaluator's checks
        that changed (`Evaluator.take_changes`), the firing alerts and
        dispatcher groups that changed (`rows.py`: in a backlog thousands
        fire and resolve, and writing them whole held the loop ~0.1 s on
        every save), and the deploy records of the services that changed.
        At most _SAVE_ROWS check rows and _SAVE_ALERT_ROWS rows of each
        other part unless `force`d, so no save holds the event loop long
        (5,000 alerts firing at once made one of 0.4 s); the rest go with
        the next call, within _SAVE_BACKLOG. The other state is small."""
        now = self.clock()
        due = _SAVE_BACKLOG if self._backlog else _SAVE_DIRTY if self._dirty else _SAVE_EVERY
        if not force and now - self._saved_at < due:
            return
        evaluator, dispatcher = self.evaluator, self._dispatcher()
        whole = force or self._whole
        batch, removed = evaluator.take_changes(None if whole else _SAVE_ROWS)
        parts = {"evaluator.checks": Rows(evaluator.rows(batch), removed)}
        most = None if force else _SAVE_ALERT_ROWS
        owners: dict[str, Owner] = {
            "lifecycle": evaluator.alerts,
            "dispatcher": dispatcher,
            "deploys": evaluator.deploys,
        }
        for owner, rows in owners.items():
            parts |= {f"{owner}.{part}": r for part, r in rows.take_rows(most).items()}
        header = None if self._header_saved else _HEADER_BLOBS
        if self.store.save_rows(parts, header):
            self._whole, self._header_saved = False, True
        else:  # kept to be written again, with every row of the others
            evaluator.keep_changes(batch, removed)
            for rows in owners.values():
                rows.changes.unsaved()
        self.store.save_state("heartbeats", self.heartbeats.export_state())
        left = any(rows.changes.pending() for rows in owners.values())
        self._backlog = evaluator.changes_left() or left
        self._dirty, self._saved_at = self._backlog, now

    # -- views ---------------------------------------------------------

    def active_alerts(self) -> list[Alert]:
        """Every firing alert."""
        alerts = [*self.evaluator.active_alerts(), *self.heartbeats.active_alerts()]
        return [a for a in alerts if a.state is AlertState.FIRING]

    def alerts_view(self) -> list[dict[str, Any]]:
        """Firing alerts as JSON, with whether each is silenced."""
        now, d = self.clock(), self._dispatcher()
        return [
            {**a.to_dict(), "silenced": d.silences.is_silenced(a.labels, now)}
            for a in self.active_alerts()
        ]

    def _dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            raise RuntimeError("AlertingService.configure() was not called")
        return self.dispatcher
