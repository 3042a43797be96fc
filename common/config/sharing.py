"""One copy of each repeated value in loaded check models.

A collector holds every check's validated model for as long as the config
is in force: at 50,000 checks, most of what they hold is the same few
values again and again (region tuples, default durations, the `slo:` and
`flapping:` settings, pydantic's set of the field names each model was
given). Check models are frozen, so equal values can be one object:

- `share_fields_set` gives every model of one shape one shared set of
  given field names (a copy of a model gets its own set, so nothing adds
  to a shared one);
- `Sharing.checks` also makes equal strings, floats, tuples, string
  mappings (labels, headers) and nested models one object each, over one
  load (the table is dropped with it, so a reload keeps nothing of the
  old config alive).

Values are compared by type and `repr`, never by `==` alone: `0.0 == -0.0`
and `1 == 1.0 == True`, which are not the same setting.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

_M = TypeVar("_M", bound=BaseModel)

_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
"""One set of given field names per distinct content; as many entries as
the fleet has shapes of check, not checks."""


def share_fields_set(model: _M) -> _M:
    """`model`, its set of given field names replaced by the shared equal one.

    pydantic keeps that set per model: 728 bytes of the ~2 KB an agent holds
    per check, and the same few names for every check of a shape."""
    given = model.__pydantic_fields_set__
    shared = _FIELDS_SETS.setdefault(frozenset(given), given)
    object.__setattr__(model, "__pydantic_fields_set__", shared)
    return model


class Sharing:
    """The table of values seen in one load; equal values become one."""

    def __init__(self) -> None:
        self._values: dict[tuple[type, str], Any] = {}
        self._strings: dict[str, str] = {}

    def checks(self, models: Iterable[_M]) -> tuple[_M, ...]:
        """`models`, each with its values shared (the same objects, changed
        in place: their values are equal, so they mean the same)."""
        return tuple(self.model(m) for m in models)

    def floats(self, models: Iterable[_M]) -> tuple[_M, ...]:
        """`models`, shared by `checks` before a pickle round trip, with
        their float fields shared again: pickle's memo keeps shared objects
        shared (nested models, tuples, strings), but it writes every float
        by value. At 50,000 checks this pass takes 0.2 s, `checks` 1.5 s."""
        loaded = tuple(models)
        for model in loaded:
            values = model.__dict__
            for name, value in values.items():
                if type(value) is float:
                    values[name] = self.value(value)
        return loaded

    def model(self, model: _M) -> _M:
        """`model` with each field's value replaced by the shared equal one."""
        values = model.__dict__
        for name, value in values.items():
            values[name] = self.value(value)
        return share_fields_set(model)

    def value(self, value: Any) -> Any:
        """The shared object equal to `value` (immutable values only)."""
        if isinstance(value, str):
            return self._strings.setdefault(value, value)
        if isinstance(value, BaseModel):
            if value.model_config.get("frozen") is not True:
                return value
            self.model(value)
            key = (type(value), repr((sorted(value.__pydantic_fields_set__), value.__dict__)))
            return self._values.setdefault(key, value)
        if isinstance(value, tuple):
            value = tuple(self.value(v) for v in value)
        elif isinstance(value, dict):
            return self._dict(value)
        elif not isinstance(value, float):
            return value
        return self._values.setdefault((type(value), repr(value)), value)

    def _dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        # Labels and headers: only the frozen model holds them and nothing
        # writes to them, so equal ones (most often `{}`) can be one dict.
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return value
        shared = {self.value(k): self.value(v) for k, v in value.items()}
        return self._values.setdefault((dict, repr(shared)), shared)  # type: ignore[no-any-return]
