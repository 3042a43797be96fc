"""The `heartbeat` check type: a background job (backup, cron, batch) pings
the collector at `POST /ping/<token>`, and a missed deadline alerts.

```yaml
- name: nightly-backup
  type: heartbeat
  period: 24h        # how often the job runs
  grace: 30m         # how late a run may be; default max(1m, 10% of period)
  labels: {severity: warning, team: infra}
```

A heartbeat has no probe and runs on no agent (`probed = False`, so
`Config.for_region` never sends it to one): the job reports to the collector
itself. `regions`, `interval`, `timeout`, `retry_after`,
`failure_threshold`, `success_threshold`, `quorum` and `slo` are inherited
from the common check fields so `defaults:` apply cleanly, but they mean
nothing here and are ignored; `labels` and `runbook_url` go on the alerts.

The ping token is not part of this model on purpose: the file lives in git,
so the collector generates the token and shows it once.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import field_validator, model_validator

from common.config.base import CheckBase, Duration
from common.durations import format_duration, parse_duration

MIN_PERIOD = 1.0
"""A shorter period is a probe in disguise, and would alert between ticks."""

MIN_DEFAULT_GRACE = 60.0
"""Cron start jitter and clock skew are seconds to a minute whatever the
period, so the default grace never drops below this."""

DEFAULT_GRACE_RATIO = 0.1
"""Long jobs drift in proportion to their period: a daily job may run an
hour late without anyone caring, a minutely one not."""


def default_grace(period: float) -> float:
    """The grace used when a check sets none: max(1m, 10% of period)."""
    return max(MIN_DEFAULT_GRACE, DEFAULT_GRACE_RATIO * period)


def _seconds(value: Any) -> float | None:
    """`value` as seconds if it reads as a duration; None leaves the error
    to the field validator, which words it for the user."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class HeartbeatCheck(CheckBase):
    """A job that must report success at least every `period` + `grace`."""

    probed: ClassVar[bool] = False
    """The job pushes to the collector; no agent runs anything."""

    type: Literal["heartbeat"] = "heartbeat"
    period: Duration
    grace: Duration

    @model_validator(mode="before")
    @classmethod
    def _fill_grace(cls, data: Any) -> Any:
        # The default depends on `period`, so it is filled in before the
        # fields are validated (the model is frozen afterwards). It goes in
        # with a unit, as a user would write it: YAML rejects bare numbers.
        if isinstance(data, dict) and "grace" not in data:
            period = _seconds(data.get("period"))
            if period is not None:
                return {**data, "grace": f"{default_grace(period):.3f}s"}
        return data

    @field_validator("period")
    @classmethod
    def _period(cls, period: float) -> float:
        if period < MIN_PERIOD:
            raise ValueError(
                f"period {format_duration(period)} must be at least {format_duration(MIN_PERIOD)}"
            )
        return period

    @field_validator("grace")
    @classmethod
    def _grace(cls, grace: float) -> float:
        if grace < 0:
            raise ValueError(f"grace {grace:g}s must not be negative")
        return grace

    @property
    def overdue_after(self) -> float:
        """Seconds after the last success at which the job counts as missed."""
        return self.period + self.grace
