"""The `alerting:` section as written: its models and every default
(collector.alerting.config has an example and turns them into what the
dispatcher, router and notifiers use). Receivers are validated one by one
by the options model of their type (`notifiers.RECEIVER_TYPES`).
"""

from __future__ import annotations

from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from collector.alerting.parsing import Clock, Days, Flag, Labels, Names, Patterns
from collector.alerting.silences import DAYS
from common.config.base import Duration, Model, known_severity
from common.config.detection import DEFAULT_BUDGET


class RouteSpec(Model):
    """A child route: what it does not set, it inherits from its parent."""

    receivers: Names | None = None
    group_by: Names | None = None
    """Labels that split alerts into groups; `[...]` for one group per alert."""
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    match: Labels = Field(default_factory=dict)
    match_re: Patterns = Field(default_factory=dict)
    continue_: Flag = Field(default=False, alias="continue")
    """Also try the later siblings when this route matches."""
    routes: tuple[RouteSpec, ...] = ()

    @field_validator("match")
    @classmethod
    def _known_severity(cls, match: dict[str, str]) -> dict[str, str]:
        # A route matching a severity no alert has would never match.
        return known_severity(match)


class RootRouteSpec(RouteSpec):
    """The root route: it matches every alert, and its settings are the
    defaults every child inherits."""

    GROUP_WAIT: ClassVar[float] = 10.0
    CRITICAL_GROUP_WAIT: ClassVar[float] = 0.0
    """The group_wait of a route that sets none: critical alerts page at once."""

    group_by: Names = ()
    group_wait: Duration | None = None
    """None: 0s for critical alerts, 10s otherwise."""
    group_interval: Duration = 60.0
    """Between notifications about one group."""
    repeat_interval: Duration = 4 * 3600.0
    """Re-send a group that is still firing."""

    @model_validator(mode="after")
    def _root(self) -> RootRouteSpec:
        if self.match or self.match_re or self.continue_:
            raise ValueError("the root route matches every alert: put match in a child route")
        if not self.receivers:
            raise ValueError("list at least one receiver in 'receivers' for unmatched alerts")
        return self


class InhibitRuleSpec(Model):
    """Mute alerts matching `target_*` while one matching `source_*` fires
    with the same values of the `equal` labels."""

    source_match: Labels = Field(default_factory=dict)
    source_match_re: Patterns = Field(default_factory=dict)
    target_match: Labels = Field(default_factory=dict)
    target_match_re: Patterns = Field(default_factory=dict)
    equal: Names = ()

    @model_validator(mode="after")
    def _bounded(self) -> InhibitRuleSpec:
        if not (self.source_match or self.source_match_re) or not (
            self.target_match or self.target_match_re
        ):
            raise ValueError("give source_match(_re) and target_match(_re): empty would match all")
        return self


class WeeklySpec(Model):
    """When a maintenance window repeats: `days` from `start` to `end`."""

    days: Days = DAYS
    start: Clock
    end: Clock
    """"24:00" for the end of the day."""

    @model_validator(mode="after")
    def _starts_in_the_day(self) -> WeeklySpec:
        if self.start == "24:00":
            raise ValueError("start: expected a time like \"02:00\", got '24:00'")
        return self


class WindowSpec(Model):
    """A recurring maintenance window: mutes matching alerts while open."""

    matchers: Labels = Field(default_factory=dict)
    matchers_re: Patterns = Field(default_factory=dict)
    weekly: WeeklySpec
    timezone: str = "UTC"
    comment: str = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(
                f"unknown time zone {zone!r}: use an IANA name like Europe/Berlin"
            ) from None
        return zone

    @model_validator(mode="after")
    def _bounded(self) -> WindowSpec:
        if not (self.matchers or self.matchers_re):
            raise ValueError("give matchers: a window without matchers mutes every alert")
        return self


class AlertingSpec(Model):
    """The `alerting:` section as written."""

    route: RootRouteSpec | None = None
    """None: no route, so alerts go nowhere."""
    receivers: tuple[dict[str, Any], ...] = ()
    """Each validated by the options model of its `type` (RECEIVER_TYPES)."""
    inhibit_rules: tuple[InhibitRuleSpec, ...] = ()
    """Added to the built-in rules (collector.alerting.inhibit)."""
    default_inhibit_rules: Flag = True
    silences: tuple[WindowSpec, ...] = ()
    detection_budget: Duration = DEFAULT_BUDGET
    """Seconds from failure to page every check should meet; `vantage
    validate` warns about checks whose settings cannot."""
