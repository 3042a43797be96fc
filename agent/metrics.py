"""Every metric the agent exports, in one place, on its own registry.

The registry is `common.exposition`'s, not prometheus_client's: the agent
saves the 1.1 MB that importing prometheus_client costs it, and the
/metrics text stays the same (see that module).
"""

from __future__ import annotations

from common.exposition import Counter, Gauge, Registry


class AgentMetrics:
    """The agent's own health: probes run, connections, spools, shed runs."""

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
            "vantage_agent_collector_connected",
            "1 while the stream to this collector is up.",
            ["collector"],
            registry=r,
        )
        self.reconnects = Counter(
            "vantage_agent_reconnects_total", "Stream reconnect attempts.", registry=r
        )
        self.spooled = Gauge(
            "vantage_agent_spool_results",
            "Results in the spool waiting for a collector's ack.",
            ["collector"],
            registry=r,
        )
        self.spool_bytes = Gauge(
            "vantage_agent_spool_bytes",
            "Bytes of spool files on disk.",
            ["collector"],
            registry=r,
        )
        self.spool_oldest = Gauge(
            "vantage_agent_spool_oldest_age_seconds",
            "Age of the oldest unacked result in the spool.",
            ["collector"],
            registry=r,
        )
        self.dropped = Counter(
            "vantage_agent_spool_dropped_total",
            "Unacked results dropped because the spool passed its size or age bound.",
            registry=r,
        )
        self.spool_errors = Counter(
            "vantage_agent_spool_write_errors_total",
            "Results lost because the spool could not be written (a full or read-only disk).",
            registry=r,
        )
        self.skipped = Counter(
            "vantage_agent_runs_skipped_total",
            "Runs shed because the agent could not keep up (not target failures), by why: "
            "late or lagging (not run: too late for its slot, or its loop lags) or loop_lag "
            "(run, but its measure holds our stall).",
            ["why"],
            registry=r,
        )
        self.config_version = Gauge(
            "vantage_agent_config_info",
            "The config version this agent runs, and where it came from (collector or saved).",
            ["collector", "version", "source"],
            registry=r,
        )

    def render(self) -> bytes:
        """The /metrics body."""
        return self.registry.render()
