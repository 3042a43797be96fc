"""Every metric the agent exports, in one place, on its own registry.

The registry is `common.exposition`'s, not prometheus_client's: the agent
saves the 1.1 MB that importing prometheus_client costs it, and the
/metrics text stays the same (see that module).
"""

from __future__ import annotations

from common.exposition import Counter, Gauge, Registry


class AgentMetrics:
    """The agent's own health: probes run, connection, spool."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or Registry()
        r = self.registry
        self.probes = Counter(
            "vantage_agent_probes_total",
            "Probes run, by check type and outcome.",
            ["type", "outcome"],
            registry=r,
        )
        self.checks = Gauge("vantage_agent_checks", "Checks scheduled on this agent.", registry=r)
        self.connected = Gauge(
            "vantage_agent_collector_connected", "1 while the collector stream is up.", registry=r
        )
        self.reconnects = Counter(
            "vantage_agent_reconnects_total", "Stream reconnect attempts.", registry=r
        )
        self.spooled = Gauge(
            "vantage_agent_spool_results", "Results waiting for a collector ack.", registry=r
        )
        self.dropped = Counter(
            "vantage_agent_results_dropped_total",
            "Results dropped because the spool was full.",
            registry=r,
        )
        self.config_version = Gauge(
            "vantage_agent_config_info",
            "The config version this agent runs.",
            ["version"],
            registry=r,
        )

    def render(self) -> bytes:
        """The /metrics body."""
        return self.registry.render()
