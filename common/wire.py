"""Convert check models to and from the proto `Check` message.

Common fields travel as typed proto fields; the type-specific settings as a
Struct that the agent validates again with the same model.
"""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2

from common.config import CHECK_TYPES, CheckBase, ConfigError
from vantage.v1 import vantage_pb2 as pb


def phases_of(message: pb.Phases) -> dict[str, float]:
    """The phase timings a probe reached, by blackbox_exporter name, in
    wire order (resolve, connect, tls, processing, transfer)."""
    return {field.name: seconds for field, seconds in message.ListFields()}


def check_to_proto(check: CheckBase) -> pb.Check:
    """The wire form of a validated check."""
    spec = struct_pb2.Struct()
    spec.update(check.spec())
    return pb.Check(
        name=check.name,
        type=check.type,
        interval_seconds=check.interval,
        timeout_seconds=check.timeout,
        regions=list(check.regions),
        labels=dict(check.labels),
        retry_after_seconds=check.retry_after,
        spec=spec,
    )


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
    return _share_fields_set(check)


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
"""One set of given field names per distinct content; as many entries as
the fleet has shapes of check, not checks."""


def _share_fields_set(check: CheckBase) -> CheckBase:
    # pydantic keeps a set of the field names a model was given: 728 bytes
    # of the ~2 KB an agent holds per check, and the same few names for
    # every check of a shape. A check model is frozen, so nothing adds to
    # it (a copy gets its own); sharing one per shape is safe.
    given = check.__pydantic_fields_set__
    shared = _FIELDS_SETS.setdefault(frozenset(given), given)
    object.__setattr__(check, "__pydantic_fields_set__", shared)
    return check
