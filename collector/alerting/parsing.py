"""Field types of the `alerting:` models (collector.alerting.section and
.receivers), and the one `${env:NAME}` resolution of receiver settings.

Each type says why a value is wrong in the words of the old hand-written
parser; the loader (common.config.loader) locates the message in the file.
A setting still written `${env:NAME}` (`vantage validate` without the
collector's environment) is not checked for shape: it is unknown.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from collector.alerting.silences import DAYS
from common.config.base import ONE_OR_MORE, Duration, Regex
from common.config.loader import Path_
from common.template import Expander, MissingValue, env_refs

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_LONG_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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


def unresolved(text: str) -> bool:
    """A `${env:...}` left as written: its shape is unknown."""
    return bool(env_refs(text))


def expand(
    value: Any, env: Mapping[str, str], missing: list[tuple[Path_, str]], at: Path_ = ()
) -> Any:
    """`value` with `${env:NAME}` resolved from `env` (common.template, which
    registers each value for redaction), recursively; what cannot be
    resolved is appended to `missing` as (path below `value`, why)."""
    if isinstance(value, dict):
        return {k: expand(v, env, missing, (*at, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env, missing, (*at, i)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    unset = [name for name in env_refs(value) if name not in env]
    missing.extend((at, f"environment variable {name} is not set") for name in unset)
    try:
        return value if unset else Expander(env).text(value)
    except MissingValue:  # a `${name}`: variables exist only in http_flow steps
        missing.append((at, "only ${env:NAME} is resolved in a receiver setting"))
        return value


# --- field types ---------------------------------------------------------------------------------


def _flag(value: object) -> object:
    # pydantic would read "yes" as true; YAML's own true/false is what we mean
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {kind(value)}")
    return value


def _string(value: object) -> object:
    if not isinstance(value, str):
        # YAML reads +15550100 as a number and drops the '+'
        raise ValueError(f"expected a string, got {kind(value)}: quote it in YAML")
    return value


def _label(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {kind(value)}")
    return value


def _mapping(value: object) -> object:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of label: value, got {kind(value)}")
    return value


def _required(text: str) -> str:
    if not text:
        raise ValueError("required: give a non-empty value")
    return text


def _url(text: str) -> str:
    if not text or unresolved(text):
        return text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # no value in the message: a receiver URL may carry a token
        raise ValueError("expected an http:// or https:// URL with a host")
    return text


def _address(text: str) -> str:
    if "@" not in text and not unresolved(text):
        raise ValueError(f"expected an email address, got {text!r}")
    return text


def _non_empty(items: tuple[str, ...]) -> tuple[str, ...]:
    if not items:
        raise ValueError("list at least one recipient")
    return items


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be longer than 0s")
    return seconds


def _port(value: object) -> object:
    if isinstance(value, str) and unresolved(value):
        return 0
    number = int(value) if isinstance(value, str) and value.isdigit() else value
    if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 65536:
        return number
    raise ValueError(f"expected a port number 1-65535, got {value!r}")


Flag = Annotated[bool, BeforeValidator(_flag)]
"""true or false, nothing YAML-truthy."""
Text = Annotated[str, BeforeValidator(_string)]
"""A string as written; a number is refused (quote it)."""
Label = Annotated[str, BeforeValidator(_label)]
"""A label value: a string, or a number read as one."""
Labels = Annotated[dict[str, Label], BeforeValidator(_mapping)]
"""Label matchers: `{name: value}`."""
Patterns = Annotated[dict[str, Regex], BeforeValidator(_mapping)]
"""Label regex matchers: `{name: regex}`, each compiled once at load."""
Required = Annotated[Text, AfterValidator(_required)]
"""A non-empty string."""
Url = Annotated[Required, AfterValidator(_url)]
"""An http(s) URL with a host (often a secret: never echoed)."""
OptionalUrl = Annotated[Text, AfterValidator(_url)]
"""A URL, or empty for none."""
Address = Annotated[Required, AfterValidator(_address)]
"""An email address."""
Names = Annotated[tuple[str, ...], ONE_OR_MORE]
"""A list of names; one may be written without a list."""
Emails = Annotated[tuple[Address, ...], ONE_OR_MORE, AfterValidator(_non_empty)]
"""One or more email addresses; a single one may be written without a list."""
Phones = Annotated[tuple[Required, ...], ONE_OR_MORE, AfterValidator(_non_empty)]
"""One or more phone numbers (quoted: `"+15550100"`)."""
Timeout = Annotated[Duration, AfterValidator(_positive)]
"""A duration longer than 0s."""
Port = Annotated[int, BeforeValidator(_port)]
"""A TCP port, 1-65535."""


def _day(day: str) -> str:
    short = day.lower()[:3]
    if short not in DAYS or day.lower() not in (short, _LONG_DAYS[DAYS.index(short)]):
        raise ValueError(f"unknown day {day!r}: use {', '.join(DAYS)}")
    return short


def _clock(text: str) -> str:
    if not _CLOCK.match(text) and text != "24:00":
        raise ValueError(f'expected a time like "02:00", got {text!r}')
    return text


Day = Annotated[str, AfterValidator(_day)]
"""A day of the week: `mon` or `monday`, any case."""
Days = Annotated[tuple[Day, ...], ONE_OR_MORE]
"""Days of the week; one may be written without a list."""
Clock = Annotated[str, AfterValidator(_clock)]
"""A time of day, `HH:MM`; `24:00` is the end of the day."""
