"""Convert check models to and from the proto `Check` message.

Common fields travel as typed proto fields; the type-specific settings as a
Struct that the agent validates again with the same model.
"""

from __future__ import annotations

from google.protobuf import json_format

from common.config import CHECK_TYPES, CheckBase, ConfigError
from common.config.sharing import share_fields_set
from vantage.v1 import vantage_pb2 as pb


def phases_of(message: pb.Phases) -> dict[str, float]:
    """The phase timings a probe reached, by blackbox_exporter name, in
    wire order (resolve, connect, tls, processing, transfer)."""
    return {field.name: seconds for field, seconds in message.ListFields()}


def check_to_proto(check: CheckBase, into: pb.Check | None = None) -> pb.Check:
    """The wire form of a validated check, written into `into` when given
    (a repeated field's new element: built in place, a check is not copied
    into the list, which for 50,000 checks was one C call holding the GIL
    for ~100 ms)."""
    message = pb.Check() if into is None else into
    message.name = check.name
    message.type = check.type
    message.interval_seconds = check.interval
    message.timeout_seconds = check.timeout
    message.regions.extend(check.regions)
    message.labels.update(check.labels)
    message.retry_after_seconds = check.retry_after
    message.spec.update(check.spec())
    return message


def check_from_proto(message: pb.Check) -> CheckBase:
    """Validate a received check with the same model the collector used.

    Raises ConfigError when the agent does not know the type (an older agent
    talking to a newer collector) or the settings do not validate.
    """
    model = CHECK_TYPES.get(message.type)
    if model is None:
        raise ConfigError([f"check {message.name!r}: type {message.type!r} unknown to this agent"])
    data = json_format.MessageToDict(message.spec)
    data.update(
        name=message.name,
        type=message.type,
        interval=message.interval_seconds,
        timeout=message.timeout_seconds,
        regions=list(message.regions),
        labels=dict(message.labels),
        retry_after=message.retry_after_seconds,
    )
    try:
        check = model.model_validate(data)
    except ValueError as exc:
        raise ConfigError([f"check {message.name!r}: {exc}"]) from exc
    return share_fields_set(check)
