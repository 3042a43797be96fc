"""`${env:NAME}` and `${var}`: the one expander of templates in settings.

Secrets reach checks only through the agent's environment: the collector
holds and sends the template, never the value, and resolves only its own
receivers' settings (collector.alerting.parsing). Every resolved env value
and every extracted flow variable is registered for redaction, so it never
shows up in a log line, a result message or the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from common import redaction

_REF = re.compile(r"\$\{(env:)?([A-Za-z_][A-Za-z0-9_.-]*)\}")


def env_refs(template: str) -> list[str]:
    """The NAMEs of the `${env:NAME}` references in `template`."""
    return [name for is_env, name in _REF.findall(template) if is_env]


class MissingValue(LookupError):
    """A template names an env var or variable that is not set."""


class Expander:
    """Expands templates from an environment and flow variables."""

    def __init__(self, env: Mapping[str, str], variables: Mapping[str, str] | None = None) -> None:
        self.env = env
        self.variables: dict[str, str] = dict(variables or {})

    def set(self, name: str, value: str) -> None:
        """Add a flow variable; it is treated as a secret."""
        self.variables[name] = value
        redaction.redact(value)

    def text(self, template: str) -> str:
        """Expand one string."""
        if "${" not in template:  # most settings have no template: skip the regex
            return template
        return _REF.sub(self._lookup, template)

    def value(self, data: Any) -> Any:
        """Expand every string inside lists and mappings."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {k: self.value(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.value(v) for v in data]
        return data

    def _lookup(self, match: re.Match[str]) -> str:
        is_env, name = match.group(1), match.group(2)
        if is_env:
            if name not in self.env:
                raise MissingValue(f"environment variable {name} is not set on this agent")
            value = self.env[name]
            redaction.redact(value)
            return value
        if name not in self.variables:
            raise MissingValue(f"variable ${{{name}}} is not set (extract it in an earlier step)")
        return self.variables[name]
