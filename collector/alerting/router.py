"""The route tree: which receivers an alert goes to, and in which group.
Pure and stateless; the `Dispatcher` holds the state.

Matching follows Alertmanager: the root matches every alert; children are
tried in order, and the first that matches wins unless it sets `continue`,
in which case later siblings are tried too. A matching child's own children
refine it; when none of them match, the child itself is the match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

from collector.alerting.config import Route
from collector.alerting.model import Alert

ALL_LABELS = "..."
"""`group_by: [...]` puts every distinct alert in its own group."""


class RouteMatch(NamedTuple):
    """Where one alert goes through one matching route."""

    route_id: str
    receivers: tuple[str, ...]
    group_key: str
    """Stable for the group: route id plus the group_by label values."""
    group_labels: Mapping[str, str]


class Router:
    """Matches alerts against a route tree."""

    def __init__(self, root: Route) -> None:
        self.root = root
        self._by_id = {route.id: route for route in root.walk()}

    def find(self, route_id: str) -> Route | None:
        """The route with `route_id`, if the tree still has it."""
        return self._by_id.get(route_id)

    def route(self, alert: Alert) -> list[RouteMatch]:
        """Every route `alert` goes through, in tree order."""
        return [match(route, alert.labels) for route in _walk(self.root, alert.labels)]


def _walk(route: Route, labels: Mapping[str, str]) -> list[Route]:
    matched: list[Route] = []
    for child in route.routes:
        if child.matchers.matches(labels):
            matched += _walk(child, labels)
            if not child.continue_:
                break
    return matched or [route]


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that name an alert's group on `route`."""
    if ALL_LABELS in route.group_by:
        return dict(labels)
    return {key: labels.get(key, "") for key in route.group_by}


def match(route: Route, labels: Mapping[str, str]) -> RouteMatch:
    """Where an alert with `labels` goes on `route` (already known to match)."""
    grouped = group_labels(route, labels)
    body = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(grouped.items()))
    return RouteMatch(route.id, route.receivers, f"{route.id}:{{{body}}}", grouped)
