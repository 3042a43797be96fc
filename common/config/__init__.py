"""The check-config model: one YAML file, owned by the collector.

`loader.load_config()` reads and validates a file; `registry.CHECK_TYPES` maps
each `type:` to its model. Errors name the file, line, check and field.
"""

from common.config.base import CheckBase, ConfigError, Defaults
from common.config.loader import Config, load_config, parse_config
from common.config.registry import CHECK_TYPES

__all__ = [
    "CHECK_TYPES",
    "CheckBase",
    "Config",
    "ConfigError",
    "Defaults",
    "load_config",
    "parse_config",
]
