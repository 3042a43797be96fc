"""The collector's config file: loaded at start, reloaded on SIGHUP or when
the file changes. An invalid new file is logged and the old config stays in
force, so a typo never stops monitoring.

The checks are validated by `common.config`; the `alerting:` section by
`collector.alerting.config`, with `${env:NAME}` resolved from the
collector's own environment (in checks, only the agent resolves them).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog

from collector.alerting.config import AlertingConfig, AlertingConfigError, parse_alerting
from common.config import Config, ConfigError, load_config

log = structlog.get_logger("collector.config")


def load_collector_config(
    path: Path, env: Mapping[str, str] | None = os.environ
) -> tuple[Config, AlertingConfig]:
    """Checks and routing from one file; ConfigError names file and field.

    `env` resolves `${env:NAME}` in receivers; None leaves them unresolved
    (`vantage validate` on a laptop that lacks the collector's secrets).
    """
    config = load_config(path)
    try:
        alerting = parse_alerting(config.alerting, env)
    except AlertingConfigError as exc:
        raise ConfigError([f"{path.name}: {problem}" for problem in exc.problems]) from exc
    return config, alerting


class ConfigSource:
    """Holds the config in force and tells subscribers when it changes."""

    def __init__(self, path: Path, on_change: Callable[[Config, AlertingConfig], None]) -> None:
        self.path = path
        self.on_change = on_change
        self.config, self.alerting = load_collector_config(path)
        self._digest = self._file_digest()
        _warn(self.config)

    def _file_digest(self) -> str:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return ""

    def reload(self, reason: str) -> bool:
        """Load the file again; keep the old config when the new one is bad."""
        self._digest = self._file_digest()
        try:
            config, alerting = load_collector_config(self.path)
        except ConfigError as exc:
            log.error(
                "config.reload_failed",
                reason=reason,
                errors=exc.problems,
                kept_version=self.config.version,
            )
            return False
        if config.version == self.config.version:
            log.info("config.unchanged", reason=reason, version=config.version)
            return True
        self.config, self.alerting = config, alerting
        _warn(config)
        log.info(
            "config.reloaded", reason=reason, version=config.version, checks=len(config.checks)
        )
        self.on_change(config, alerting)
        return True

    async def watch(self, every: float = 1.0) -> None:
        """Poll the file's content; works with editors and k8s ConfigMap swaps."""
        while True:
            await asyncio.sleep(every)
            if self._file_digest() not in (self._digest, ""):
                self.reload("file changed")


def _warn(config: Config) -> None:
    for warning in config.warnings:
        log.warning("config.warning", warning=warning)
