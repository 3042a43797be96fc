"""Fixtures for the agent tests."""

from __future__ import annotations

from tests.agent.knot import knot

__all__ = ["knot"]
