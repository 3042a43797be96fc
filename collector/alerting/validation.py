"""What `vantage validate` says about checks and routing together. Pure.

- **Detection budget:** each probed check's worst-case time from failure to
  page (`common.config.detection`), and a warning for each check over
  `alerting.detection_budget`.
- **Default route:** a warning for each check whose alerts match no route
  but the root's (its pages go wherever unmatched alerts go, which is
  rarely what a `team` or `service` label meant).
"""

from __future__ import annotations

from collections.abc import Iterator

from collector.alerting.config import AlertingConfig
from collector.alerting.lifecycle import check_labels
from collector.alerting.model import Alert, AlertState, Severity
from collector.alerting.router import Router
from common.config import CheckBase, Config
from common.config.detection import time_to_page
from common.durations import format_duration


def detection_times(config: Config) -> dict[str, float]:
    """Worst-case seconds to page, per probed check, in file order."""
    return {c.name: time_to_page(c) for c in config.checks if c.probed}


def warnings(config: Config, alerting: AlertingConfig) -> list[str]:
    """Every warning about checks against routing and the detection budget."""
    return [*_over_budget(config, alerting), *_default_routed(config, alerting)]


def _where(config: Config, check: CheckBase) -> str:
    return f"{config.source}:{config.check_lines.get(check.name) or '?'}: check {check.name!r}"


def _over_budget(config: Config, alerting: AlertingConfig) -> Iterator[str]:
    budget = alerting.detection_budget
    for check in config.checks:
        if check.probed and (took := time_to_page(check)) > budget:
            yield (
                f"{_where(config, check)}: pages {format_duration(took)} after a failure at worst, "
                f"over the detection budget of {format_duration(budget)} "
                "(lower interval, timeout, retry_after or failure_threshold)"
            )


def _default_routed(config: Config, alerting: AlertingConfig) -> Iterator[str]:
    root = alerting.route
    if not root.routes:
        return  # one route for everything: the default is the plan
    router = Router(root)
    for check in config.checks:
        severity = check.labels.get("severity") or Severity.CRITICAL
        labels = check_labels(
            check.labels, alertname="CheckDown", check=check.name, check_type=check.type,
            severity=severity,
        )  # fmt: skip
        routes = router.route(Alert(labels, {}, AlertState.FIRING, 0.0))
        if [m.route_id for m in routes] == [root.id]:
            yield (
                f"{_where(config, check)}: its alerts match no route but the default "
                f"(receivers {', '.join(root.receivers)}): check its labels "
                f"({', '.join(f'{k}={v}' for k, v in sorted(labels.items()))})"
            )
