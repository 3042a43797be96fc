"""Counters and gauges in the Prometheus text format, without prometheus_client.

The agent exports seven series, and importing prometheus_client (which
imports http.server, wsgiref and urllib on the way) cost a running agent
1.1 MB of its 60 MB budget. The collector, with no such budget, keeps
prometheus_client. What `Registry.render()` writes is what prometheus_client's
`generate_latest` writes for the same metrics, byte for byte, and a test
compares the two:

- `# HELP` and `# TYPE` before each family, help text escaped;
- counters as `<name>_total`, plus one `<name>_created` gauge family with
  each series' creation time (PROMETHEUS_DISABLE_CREATED_SERIES=true turns
  it off, as it does in prometheus_client);
- labels sorted by name, values escaped (backslash, newline, double quote);
- values formatted as Go's strconv formats them (`1.0`, `1.7e+09`, `+Inf`).

Pure: no I/O and no locks; the agent touches its metrics from one event loop.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"
"""The Content-Type of a /metrics answer in this format."""

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def created_series_enabled() -> bool:
    """Whether counters also export `_created`: prometheus_client's switch."""
    setting = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False")
    return setting.lower() not in ("true", "1", "t")


def format_value(value: float) -> str:
    """A sample value as Go writes it: Go switches to exponents sooner."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def escape_label_value(value: str) -> str:
    """A label value as it stands between double quotes."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def family(
    name: str, kind: str, documentation: str, samples: Iterable[tuple[Mapping[str, str], float]]
) -> str:
    """One metric family: HELP and TYPE, then a line per (labels, value)."""
    doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
    lines = [f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"]
    for labels, value in samples:
        pairs = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{pairs}}} " if pairs else f"{name} ")
        lines.append(f"{format_value(value)}\n")
    return "".join(lines)


class Series:
    """One label combination of a metric: its value and creation time."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()


class CounterSeries(Series):
    """A counter's series: only ever goes up."""

    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount`, which must not be negative."""
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.value += amount


class GaugeSeries(Series):
    """A gauge's series: set to any value."""

    __slots__ = ()

    def set(self, value: float) -> None:
        """Set the value."""
        self.value = float(value)


_S = TypeVar("_S", bound=Series)


class Metric(Generic[_S]):
    """A named metric with fixed label names and a series per label values."""

    kind: ClassVar[str]
    series_type: type[_S]

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        registry: Registry | None = None,
    ) -> None:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        bad = [label for label in labelnames if not _LABEL_NAME.match(label)]
        if bad or len(set(labelnames)) != len(labelnames):
            raise ValueError(f"invalid label names {list(labelnames)!r} for {name}")
        self.name, self.documentation = self.base_name(name), documentation
        self.labelnames = tuple(labelnames)
        self.series: dict[tuple[str, ...], _S] = {}
        if not self.labelnames:
            self.series[()] = self.series_type()
        if registry is not None:
            registry.register(self)

    @staticmethod
    def base_name(name: str) -> str:
        """The name this metric's families are built from."""
        return name

    def labels(self, *values: object) -> _S:
        """The series for these label values (in `labelnames` order)."""
        if len(values) != len(self.labelnames) or not self.labelnames:
            raise ValueError(f"{self.name} takes labels {list(self.labelnames)!r}")
        key = tuple(str(v) for v in values)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = self.series_type()
        return series

    def clear(self) -> None:
        """Forget every labelled series."""
        if self.labelnames:
            self.series.clear()

    def render(self, created: bool) -> str:
        """This metric's families in the text format."""
        return family(self.name, self.kind, self.documentation, self._samples("value"))

    def _samples(self, attribute: str) -> Iterable[tuple[dict[str, str], float]]:
        for key, series in self.series.items():
            yield dict(zip(self.labelnames, key, strict=True)), getattr(series, attribute)

    def _only(self) -> _S:
        if self.labelnames:
            raise ValueError(f"{self.name} has labels: use .labels(...)")
        return self.series[()]


class Counter(Metric[CounterSeries]):
    """A counter; its families are `<name>_total` and `<name>_created`."""

    kind = "counter"
    series_type = CounterSeries

    @staticmethod
    def base_name(name: str) -> str:
        """`name` without `_total`, which rendering adds back."""
        return name.removesuffix("_total")

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` to the unlabelled counter."""
        self._only().inc(amount)

    def render(self, created: bool) -> str:
        """`_total`, then (if on and any series exists) the `_created` gauges."""
        text = family(f"{self.name}_total", "counter", self.documentation, self._samples("value"))
        if created and self.series:
            samples = self._samples("created")
            text += family(f"{self.name}_created", "gauge", self.documentation, samples)
        return text


class Gauge(Metric[GaugeSeries]):
    """A gauge."""

    kind = "gauge"
    series_type = GaugeSeries

    def set(self, value: float) -> None:
        """Set the unlabelled gauge."""
        self._only().set(value)


class Registry:
    """Metrics in registration order; `render()` is a /metrics body."""

    def __init__(self, created_series: bool | None = None) -> None:
        self.metrics: list[Metric[Any]] = []
        self.created_series = created_series_enabled() if created_series is None else created_series

    def register(self, metric: Metric[Any]) -> None:
        """Add `metric`; a second metric of the same name is an error."""
        if any(m.name == metric.name for m in self.metrics):
            raise ValueError(f"duplicate metric {metric.name}")
        self.metrics.append(metric)

    def render(self) -> bytes:
        """Every metric, in the text format, UTF-8."""
        text = "".join(m.render(self.created_series) for m in self.metrics)
        return text.encode("utf-8")
