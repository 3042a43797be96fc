"""Code shared by the agent, the collector and the CLI: the check-config
model, durations, failure reasons and logging. It imports neither agent nor
collector, so the two processes stay independent (see DESIGN.md)."""

__version__ = "0.1.0"
