"""The check-config model: one YAML file, owned by the collector.

`loader.load_config()` reads and validates a file; `registry.CHECK_TYPES` maps
each `type:` to its model. Errors name the file, line, check and field.

The loader (and YAML with it) is imported on first use of its names: the
agent receives checks over the wire and never reads a file, so it never
pays for them (see agent memory in bench/agent_memory.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.config.base import CheckBase, ConfigError, Defaults
from common.config.registry import CHECK_TYPES

if TYPE_CHECKING:
    from common.config.loader import Config, load_config, parse_config

__all__ = [
    "CHECK_TYPES",
    "CheckBase",
    "Config",
    "ConfigError",
    "Defaults",
    "load_config",
    "parse_config",
]

_FROM_LOADER = frozenset({"Config", "load_config", "parse_config"})


def __getattr__(name: str) -> Any:
    if name in _FROM_LOADER:
        from common.config import loader  # noqa: PLC0415  # lazy: see the docstring

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
