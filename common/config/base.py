"""Base pieces of the config model: durations, the common check fields, and
the error type."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from common.durations import format_duration, parse_duration

FROM_YAML = "from_yaml"
"""Validation context flag: values come from a user's file, where a duration
must carry its unit. Code and the wire pass float seconds."""


class ConfigError(Exception):
    """A config file is invalid. `problems` holds one line per mistake."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str]]]:
        # Pickled whole (a config parsed in a child process), not as its message.
        return ConfigError, (self.problems,)


SEVERITIES = ("critical", "warning", "info")
"""The values of the `severity` label (collector.alerting.model.Severity)."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a choice is close to `word`, else "": the
    one "did you mean" of config errors, checks and `alerting:` alike."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def known_severity(labels: dict[str, str]) -> dict[str, str]:
    """`labels`, if their `severity` (when set) is one of SEVERITIES; a
    ValueError with "did you mean" otherwise. For check labels and route
    matchers alike."""
    severity = labels.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise ValueError(
            f"severity {severity!r} is not one of {', '.join(SEVERITIES)}"
            + suggest(severity, SEVERITIES)
        )
    return labels


def _duration(value: Any, info: ValidationInfo) -> float:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if info.context and info.context.get(FROM_YAML):
            raise ValueError(f"bad duration {value!r}: add a unit, e.g. {value}s")
        return float(value)
    return parse_duration(str(value))  # raises with the one wording of a bad duration


DURATION_SCHEMA = {
    "type": "string",
    "pattern": r"^\s*(\d+(\.\d+)?(ms|s|m|h|d))+\s*$",
    "description": "a duration: 500ms, 30s, 2m, 1h, 7d, or a compound such as 1h30m",
}
"""How a duration reads in the JSON Schema of checks.yaml (docs/checks.schema.json)."""

Duration = Annotated[float, BeforeValidator(_duration), WithJsonSchema(DURATION_SCHEMA)]
"""A duration: `30s` in YAML, float seconds in code."""


def one_or_more(value: object) -> object:
    """A lone string where a list is expected is a list of one
    (`to: a@example.com`, `body_contains: Welcome` read naturally)."""
    return [value] if isinstance(value, str) else value


class _OneOrMore:
    """The annotation of a list of strings that `one_or_more` widens:
    `Annotated[tuple[str, ...], ONE_OR_MORE]`. It validates through
    `one_or_more`, and its JSON Schema (validation mode) says what that
    accepts: the list, or one item of it alone."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(one_or_more, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        array = handler(schema)
        if handler.mode != "validation":
            return array
        return {"anyOf": [array, array["items"]]}


ONE_OR_MORE = _OneOrMore()
"""See `_OneOrMore`: the one way a field takes a list or one string."""

Strings = Annotated[tuple[str, ...], ONE_OR_MORE]
"""A list of strings; one may be written without a list."""


def check_regex(pattern: str) -> str:
    """`pattern` if it compiles; ValueError saying why otherwise."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from None
    return pattern


Regex = Annotated[str, AfterValidator(check_regex)]
"""A regular expression, compiled once at load to reject a bad one."""

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
"""Check, agent and region names: safe as label values, at most 63 characters."""


class Model(BaseModel):
    """Frozen, and strict about unknown keys.

    Schemas are built on first validation, not at import: an agent builds
    only those of the check types it is sent (see `shared()` for nested
    defaults, which would otherwise build theirs at import).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


_M = TypeVar("_M", bound=Model)


def shared(model: type[_M]) -> Callable[[], _M]:
    """A `default_factory` for a nested model: one default instance, made on
    first use and shared by every check (models are frozen).

    A plain `= SloSpec()` default would build SloSpec's schema at import,
    and pydantic deep-copies an unhashable default (one holding a dict) for
    every check that uses it.
    """
    return functools.cache(model)


class Defaults(Model):
    """Values every check inherits unless it sets its own."""

    interval: Duration = 60.0
    timeout: Duration = 10.0
    regions: tuple[str, ...] = ("eu-west", "us-east", "ap-south")
    retry_after: Duration = 10.0
    failure_threshold: int = Field(default=2, ge=1)
    success_threshold: int = Field(default=2, ge=1)
    quorum: int | Literal["majority", "all"] = "majority"
    stale_grace: Duration = 30.0
    """A region silent for 2 x interval + stale_grace stops voting (AgentDown)."""
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _known_severity(cls, labels: dict[str, str]) -> dict[str, str]:
        # Routes match on severity: a typo would silently take the default route.
        return known_severity(labels)

    @field_validator("timeout")
    @classmethod
    def _timeout_below_interval(cls, timeout: float, info: ValidationInfo) -> float:
        interval = info.data.get("interval")
        if interval is not None and timeout >= interval:
            raise ValueError(
                f"timeout {format_duration(timeout)} must be shorter than "
                f"interval {format_duration(interval)}"
            )
        return timeout


class SloSpec(Model):
    """Per-check SLO thresholds over a 5-minute window (collector only)."""

    p95_warning: Duration = 0.5
    p95_critical: Duration = 0.8
    error_ratio: float = Field(default=0.01, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SloSpec:
        if self.p95_critical < self.p95_warning:
            raise ValueError(
                f"p95_critical {format_duration(self.p95_critical)} must not be below "
                f"p95_warning {format_duration(self.p95_warning)}"
            )
        return self


class FlappingSpec(Model):
    """Flap damping (collector only; docs/alerting.md): more than `changes`
    outage-state changes within `window` is flapping, and it ends after
    `settle` without a change. `changes: 0` turns damping off."""

    changes: int = Field(default=2, ge=0)
    window: Duration = 600.0
    settle: Duration = 300.0


class CertExpirySpec(Model):
    """When a check's TLS certificate alerts (collector only; docs/alerting.md):
    `CertExpiring` at warning under `warning_days` days left, and at
    critical under `critical_days` (or expired), once per serial each."""

    warning_days: float = Field(default=14.0, gt=0)
    critical_days: float = Field(default=7.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> CertExpirySpec:
        if self.critical_days >= self.warning_days:
            raise ValueError(
                f"critical_days {self.critical_days:g} must be below "
                f"warning_days {self.warning_days:g}"
            )
        return self


COMMON_FIELDS = frozenset(Defaults.model_fields) | {
    "name", "type", "slo", "flapping", "cert_expiry", "runbook_url",
}  # fmt: skip
"""Fields every check has: the proto carries the agent's as typed fields, and
the collector-only ones (`slo`, `cert_expiry`, `runbook_url`, thresholds) stay home."""


class CheckBase(Defaults):
    """Fields shared by every check type. Subclasses add `type` and settings."""

    probed: ClassVar[bool] = True
    """False for types no agent runs (heartbeats are pushed to the collector)."""

    name: str
    type: str
    slo: SloSpec = Field(default_factory=shared(SloSpec))
    flapping: FlappingSpec = Field(default_factory=shared(FlappingSpec))
    cert_expiry: CertExpirySpec = Field(default_factory=shared(CertExpirySpec))
    runbook_url: str | None = None

    @model_validator(mode="after")
    def _check_common(self) -> CheckBase:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(
                f"name {self.name!r}: use letters, digits, '.', '_' or '-', at most 63 characters"
            )
        if not self.regions:
            raise ValueError("regions: list at least one region")
        if isinstance(self.quorum, int) and self.quorum < 1:
            raise ValueError(f"quorum {self.quorum}: must be at least 1, 'majority' or 'all'")
        return self

    def spec(self) -> dict[str, Any]:
        """The type-specific settings as JSON-able data, for the wire."""
        return self.model_dump(
            mode="json", exclude=set(COMMON_FIELDS), exclude_unset=True, by_alias=True
        )


def insecure(check: CheckBase) -> bool:
    """Whether a check turns certificate verification off."""
    return bool(getattr(check, "insecure_skip_verify", False))
