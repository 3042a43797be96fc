"""What fires when the monitor cannot see: `AgentDown` per silent agent and
region, and `MonitoringBlind` when every region of a check is stale or no
agent is connected. Pure; mixed into the `Evaluator`, whose state it reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from collector.alerting import texts
from collector.alerting.checkstate import CheckState
from collector.alerting.lifecycle import Lifecycle, key
from collector.alerting.model import Alert
from collector.alerting.policy import CheckPolicy

BLIND_START_GRACE = 20.0
"""Seconds after the collector starts before `MonitoringBlind` or a new
`AgentDown` may fire: agents starting, or reconnecting after a restart (with
backoff), are not a blind monitor nor a dead agent, even where checks run
every second."""


class Sight:
    """`AgentDown` and `MonitoringBlind` over the evaluator's check states."""

    _checks: dict[str, CheckState]
    _policies: dict[str, CheckPolicy]
    _started_at: float
    _connected_at: float
    alerts: Lifecycle

    def _agents(self, now: float, stale: Mapping[str, set[str]]) -> list[Alert]:
        """`AgentDown` per silent (agent, region), naming every check it was
        assigned, kept current while it fires."""
        silent: dict[tuple[str, str], float | None] = {}
        for check, names in stale.items():
            for name in names:
                region = self._checks[check].regions[name]
                who = (region.agent_id or "unknown", name)
                silent[who] = _latest(silent.get(who), region.last_seen)
        alerts: list[Alert] = []
        starting = now - self._started_at < BLIND_START_GRACE
        for (agent, where), seen in sorted(silent.items()):
            k = key("AgentDown", agent, where)
            if starting and k not in self.alerts:
                continue  # an agent still starting; one restored as firing keeps firing
            checks = self._assigned(agent, where)
            alert = texts.agent_down(agent, where, checks=checks, last_seen=seen, now=now)
            alerts += self.alerts.fire(k, alert, refresh=True)
        wanted = {key("AgentDown", *who) for who in silent}
        for k in [k for k in self.alerts.keys("AgentDown|") if k not in wanted]:
            current = self.alerts.get(k)
            assert current is not None
            where = current.labels.get("region", "")
            if not self._restored(current) or any(self._heard(c, where) for c in self._checks):
                alerts += self.alerts.resolve(k, now, texts.agent_back(current))
        return alerts

    def _restored(self, alert: Alert) -> bool:
        """Fired before this collector started. After a restart every region
        looks fresh until it can go stale again, so such an alert ends only
        with results that came since: the restart itself is no news."""
        return alert.starts_at < self._started_at

    def _heard(self, check: str, region: str = "") -> bool:
        """A result of `check` (in `region`, else any) since this start; a
        check no longer configured holds nothing back."""
        state = self._checks.get(check)
        return state is None or any(
            r.last_seen is not None and r.last_seen >= self._started_at
            for name, r in state.regions.items()
            if name == region or not region
        )

    def _assigned(self, agent: str, region: str) -> list[str]:
        """The checks `agent` probes in `region`: every check of the region
        it last reported for, or that no agent reported for yet."""
        return sorted(
            name
            for name, state in self._checks.items()
            if (r := state.regions.get(region)) is not None and r.agent_id in (agent, "")
        )

    def _blind(
        self, now: float, stale: Mapping[str, set[str]], connected: int | None
    ) -> list[Alert]:
        """`MonitoringBlind` while any check has every region stale, or no
        agent has been connected for as long as the fastest check needs to go
        stale (then every check is blind, slow ones too)."""
        blind = sorted(
            c for c, names in stale.items() if names and names == set(self._policies[c].regions)
        )
        if connected:
            self._connected_at = now
        elif connected == 0 and self._policies:
            # as long as the fastest check's region takes to go stale: agents
            # reconnecting after a collector restart are not a blind monitor
            limit = min(p.stale_after for p in self._policies.values())
            if now - self._connected_at > limit:
                blind = sorted(self._policies)
        k = key("MonitoringBlind")
        current = self.alerts.get(k)
        if blind and (current is not None or now - self._started_at >= BLIND_START_GRACE):
            alert = texts.monitoring_blind(blind, connected, now)
            return self.alerts.fire(k, alert, refresh=True)
        named = current.annotations.get("checks", "").split(", ") if current else []
        if current is None or (self._restored(current) and not all(map(self._heard, named))):
            return []
        return self.alerts.resolve(k, now, texts.sight_back())


def _latest(a: float | None, b: float | None) -> float | None:
    return max((t for t in (a, b) if t is not None), default=None)
