"""The `http_flow` check type: ordered HTTP steps sharing a cookie jar, with
values extracted from one step and used in the next as `${var}`."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from common.config.base import CheckBase, Model
from common.config.http import HttpRequest, JsonExpect

_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USES = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


class Extract(Model):
    """Where a variable comes from: a JSON path, a header, or a regex group."""

    json_: str | None = Field(default=None, alias="json")
    header: str | None = None
    regex: str | None = None

    model_config = Model.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _one_source(self) -> Extract:
        if sum(v is not None for v in (self.json_, self.header, self.regex)) != 1:
            raise ValueError("give exactly one of json, header or regex")
        if self.json_ is not None:
            JsonExpect(path=self.json_, exists=True)  # validates the expression
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"bad regex {self.regex!r}: {exc}") from None
        return self


class FlowStep(HttpRequest):
    """One request of a flow."""

    name: str
    extract: dict[str, Extract] = Field(default_factory=dict)

    @field_validator("extract")
    @classmethod
    def _names(cls, value: dict[str, Extract]) -> dict[str, Extract]:
        for name in value:
            if not _VAR.match(name):
                raise ValueError(f"bad variable name {name!r}: use letters, digits and _")
        return value

    def uses(self) -> set[str]:
        """Flow variables (not env vars) this step's templates refer to."""
        text = " ".join(
            [
                self.url,
                str(self.headers),
                str(self.body),
                str(self.json_body),
                str(self.bearer_token),
                str(self.basic_auth),
            ]
        )
        return {name for name in _USES.findall(text) if not name.startswith("env:")}


class HttpFlowCheck(CheckBase):
    """A multi-step smoke flow: log in, load a page, do one authenticated action."""

    type: Literal["http_flow"] = "http_flow"
    steps: tuple[FlowStep, ...]
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    release_header: str | None = None

    @model_validator(mode="after")
    def _steps_make_sense(self) -> HttpFlowCheck:
        if not self.steps:
            raise ValueError("steps: list at least one step")
        known: set[str] = set()
        names: set[str] = set()
        for index, step in enumerate(self.steps):
            if step.name in names:
                raise ValueError(f"steps[{index}]: duplicate step name {step.name!r}")
            names.add(step.name)
            missing = step.uses() - known
            if missing:
                raise ValueError(
                    f"step {step.name!r} uses ${{{sorted(missing)[0]}}} before any step extracts it"
                )
            known |= set(step.extract)
        return self
