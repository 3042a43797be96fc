"""Shared helpers for walking YAML-loaded data: every problem is collected
with its path (`alerting.route.routes[0].match: ...`), so one run reports
every mistake. Used by the `alerting:` parser and its receiver parsing."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from common.config.base import suggest
from common.durations import parse_duration

_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def kind(value: object) -> str:
    """The YAML-ish name of a value's type, for error messages."""
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def loopback(host: str) -> bool:
    """Whether `host` is localhost or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ParserBase:
    """Walks loaded data, collecting every problem with its path."""

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.env = env
        self.problems: list[str] = []
        self.receiver_names: list[str] = []

    def fail(self, path: str, why: str) -> None:
        self.problems.append(f"{path}: {why}")

    def mapping(self, value: object, path: str, what: str = "a mapping") -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.fail(path, f"expected {what}, got {kind(value)}")
        return {}

    def sequence(self, value: object, path: str) -> list[Any]:
        if isinstance(value, list):
            return value
        self.fail(path, f"expected a list, got {kind(value)}")
        return []

    def keys(self, data: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(f"{path}.{key}", f"unknown key{suggest(str(key), allowed)}")

    def strings(self, value: object, path: str) -> tuple[str, ...]:
        items = self.sequence(value, path)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item:
                self.fail(f"{path}[{i}]", f"expected a name, got {kind(item)}")
        return tuple(i for i in items if isinstance(i, str) and i)

    def duration(self, data: Mapping[str, Any], key: str, path: str) -> float | None:
        """The duration at `key` in seconds; None when absent or bad."""
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", f"bad duration {value!r}: add a unit, e.g. {value}s")
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(f"{path}.{key}", str(exc))
            return None

    def flag(self, data: Mapping[str, Any], key: str, path: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.fail(f"{path}.{key}", f"expected true or false, got {kind(value)}")
            return False
        return value

    def labels(self, value: object, path: str) -> dict[str, str]:
        labels = {}
        for key, item in self.mapping(value, path, "a mapping of label: value").items():
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                labels[str(key)] = str(item)
            else:
                self.fail(f"{path}.{key}", f"expected a string, got {kind(item)}")
        return labels

    def regexes(self, value: object, path: str) -> dict[str, re.Pattern[str]]:
        patterns = {}
        for key, text in self.labels(value, path).items():
            try:
                patterns[key] = re.compile(text)
            except re.error as exc:
                self.fail(f"{path}.{key}", f"bad regular expression {text!r}: {exc}")
        return patterns

    def expand(self, value: Any, path: str) -> Any:
        """Resolve `${env:NAME}` in strings, recursively."""
        if isinstance(value, dict):
            return {k: self.expand(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or self.env is None:
            return value
        for name in _ENV.findall(value):
            if name not in self.env:
                self.fail(path, f"environment variable {name} is not set")
        env = self.env
        return _ENV.sub(lambda m: env.get(m.group(1), ""), value)

    # --- receiver settings ------------------------------------------------

    def text(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
        """The string at `key`; `default` None means required."""
        value = data.get(key, default)
        if value is None or (value == "" and default is None):
            self.fail(f"{path}.{key}", "required: give a non-empty value")
            return ""
        return self.string(value, f"{path}.{key}")

    def string(self, value: object, path: str) -> str:
        if isinstance(value, str):
            return value
        # YAML reads +15550100 as a number and drops the '+'
        self.fail(path, f"expected a string, got {kind(value)}: quote it in YAML")
        return ""

    def url(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
        text = self.text(data, key, path, default)
        if not text or self.unresolved(text):
            return text
        parts = urllib.parse.urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # no value in the message: a receiver URL may carry a token
            self.fail(f"{path}.{key}", "expected an http:// or https:// URL with a host")
        return text

    def unresolved(self, text: str) -> bool:
        """A `${env:...}` left as written (no env given): its shape is unknown."""
        return self.env is None and _ENV.search(text) is not None

    def address(self, data: Mapping[str, Any], key: str, path: str) -> str:
        text = self.text(data, key, path)
        if text and "@" not in text and not self.unresolved(text):
            self.fail(f"{path}.{key}", f"expected an email address, got {text!r}")
        return text

    def recipients(self, value: object, path: str, *, email: bool) -> tuple[str, ...]:
        if isinstance(value, str):  # `to: a@example.com` is a natural way to write one
            value = [value]
        raw = self.sequence(value, path)
        if not raw:
            self.fail(path, "list at least one recipient")
        items = [self.string(v, f"{path}[{i}]") for i, v in enumerate(raw)]
        for i, item in enumerate(items):
            if email and item and "@" not in item and not self.unresolved(item):
                self.fail(f"{path}[{i}]", f"expected an email address, got {item!r}")
        return tuple(i for i in items if i)

    def seconds(self, data: Mapping[str, Any], key: str, path: str, default: float) -> float:
        value = self.duration(data, key, path)
        if value is not None and value <= 0:
            self.fail(f"{path}.{key}", "must be longer than 0s")
        return default if value is None or value <= 0 else value

    def port(self, value: object, path: str) -> int:
        if isinstance(value, str) and self.unresolved(value):
            return 0
        number = int(value) if isinstance(value, str) and value.isdigit() else value
        if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 65536:
            return number
        self.fail(path, f"expected a port number 1-65535, got {value!r}")
        return 0

    def credentials(self, username: str, password: str, path: str) -> None:
        if bool(username) != bool(password):
            missing = "password" if username else "username"
            self.fail(f"{path}.{missing}", "required: give username and password together")
        if ":" in username:  # basic auth joins them with ':'
            self.fail(f"{path}.username", "must not contain ':'")
