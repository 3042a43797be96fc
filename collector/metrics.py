"""Every metric the collector exports, defined in this one module.

Per-(check, region) series are rendered at scrape time from `Stats` by a
custom collector, so ingest never touches prometheus_client objects; the
collector's own counters are ordinary prometheus_client metrics. All live on
one `CollectorRegistry` owned by `CollectorMetrics` (tests make a fresh one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from collector.model import Sample
from collector.stats.series import ALL, HISTOGRAM_BOUNDS, WINDOWS, Key, Series, Stats


class CollectorMetrics:
    """The collector's registry and its own counters and gauges."""

    def __init__(self, stats: Stats, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.agent_connected = Gauge(
            "vantage_agent_connected",
            "1 while an agent's stream is open.",
            ["agent", "region"],
            registry=r,
        )
        self.ingest_results = Counter(
            "vantage_ingest_results_total",
            "Results received from agents, by status.",
            ["status"],
            registry=r,
        )
        self.ingest_batches = Counter(
            "vantage_ingest_batches_total",
            "Result batches received, by status.",
            ["status"],
            registry=r,
        )
        self.auth_failures = Counter(
            "vantage_agent_auth_failures_total",
            "Streams refused for a bad or missing token.",
            registry=r,
        )
        self.config_reloads = Counter(
            "vantage_config_reloads_total",
            "Config reload attempts, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.config_reload_errors = Counter(
            "vantage_config_reload_errors_total",
            "Config reloads refused (bad file, or every check removed); the old config stays.",
            registry=r,
        )
        self.store_errors = Counter(
            "vantage_store_errors_total",
            "State database operations that failed (retried until the store works).",
            registry=r,
        )
        self.config_info = Gauge(
            "vantage_config_info", "The config version in force.", ["version"], registry=r
        )
        self.notifications = Counter(
            "vantage_notifications",
            "Notifications sent to receivers, by outcome.",
            ["receiver", "outcome"],
            registry=r,
        )
        self.alerts = Counter(
            "vantage_alerts",
            "Alert events from the evaluator and heartbeats.",
            ["alertname", "state"],
            registry=r,
        )
        r.register(StatsExposition(stats, clock))


class StatsExposition(Collector):
    """Renders blackbox-compatible and vantage_* series from `Stats`."""

    def __init__(self, stats: Stats, clock: Callable[[], float]) -> None:
        self.stats = stats
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        """Build every family from the current state."""
        now = self.clock()
        regional = [(k, s) for k, s in self.stats.series.items() if k[1] != ALL]
        yield from _last_result_families(regional)
        yield from _tls_dns_families(regional, now)
        yield _histogram(regional)
        yield from _outcome_counter(regional)
        yield from _window_families(self.stats.series.items(), now)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _last_result_families(regional: list[tuple[Key, Series]]) -> Iterator[Metric]:
    labels = ["check", "region"]
    success = _gauge("probe_success", "Whether the last probe succeeded.", labels)
    duration = _gauge("probe_duration_seconds", "Duration of the last probe.", labels)
    status = _gauge("probe_http_status_code", "HTTP status of the last probe.", labels)
    phases = _gauge(
        "probe_http_duration_seconds", "Phase durations of the last HTTP probe.", [*labels, "phase"]
    )
    expiry = _gauge(
        "probe_ssl_earliest_cert_expiry", "Earliest certificate expiry, unix time.", labels
    )
    for (check, region), series in regional:
        last = series.last
        if last is None:
            continue
        key = [check, region]
        success.add_metric(key, 1.0 if last.success else 0.0)
        duration.add_metric(key, last.duration)
        _add_details(last, key, status, phases, expiry)
    yield from (success, duration, status, phases, expiry)


def _add_details(
    last: Sample,
    key: list[str],
    status: GaugeMetricFamily,
    phases: GaugeMetricFamily,
    expiry: GaugeMetricFamily,
) -> None:
    if last.check_type == "http":
        status.add_metric(key, float(last.status_code))
        for phase, seconds in last.phases.items():
            phases.add_metric([*key, phase], seconds)
    if last.tls_not_after:
        expiry.add_metric(key, last.tls_not_after)


def _tls_dns_families(regional: list[tuple[Key, Series]], now: float) -> Iterator[Metric]:
    labels = ["check", "region"]
    days = _gauge(
        "vantage_tls_cert_expiry_days", "Days until the earliest certificate expires.", labels
    )
    version = _gauge(
        "probe_tls_version_info", "TLS version of the last probe.", [*labels, "version"]
    )
    lookup = _gauge("probe_dns_lookup_time_seconds", "DNS lookup time of the last probe.", labels)
    for (check, region), series in regional:
        last = series.last
        if last is None:
            continue
        if last.tls_not_after:
            days.add_metric([check, region], (last.tls_not_after - now) / 86400)
        if last.tls_version:
            version.add_metric([check, region, last.tls_version], 1.0)
        if last.check_type == "dns" and "resolve" in last.phases:
            lookup.add_metric([check, region], last.phases["resolve"])
    yield from (days, version, lookup)


def _histogram(regional: list[tuple[Key, Series]]) -> Metric:
    family = HistogramMetricFamily(
        "vantage_probe_duration_seconds", "Probe durations.", labels=["check", "region"]
    )
    for (check, region), series in regional:
        cumulative, buckets = 0, []
        for bound, count in zip([*HISTOGRAM_BOUNDS, float("inf")], series.histogram, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else str(bound), float(cumulative)))
        family.add_metric([check, region], buckets, series.duration_sum)
    return family


def _outcome_counter(regional: list[tuple[Key, Series]]) -> Iterator[Metric]:
    family = CounterMetricFamily(
        "vantage_probe_results",
        "Probe results by outcome (success or failure reason).",
        labels=["check", "region", "outcome"],
    )
    for (check, region), series in regional:
        for outcome, count in series.outcomes.items():
            family.add_metric([check, region, outcome], float(count))
    yield family


def _window_families(items: Iterable[tuple[Key, Series]], now: float) -> Iterator[Metric]:
    labels = ["check", "region", "window"]
    p95 = _gauge("vantage_check_latency_p95_seconds", "p95 latency of successful probes.", labels)
    ratio = _gauge("vantage_check_error_ratio", "Failed probes / all probes.", labels)
    for (check, region), series in items:
        for name in WINDOWS:
            window = series.window(name)
            value = window.p95(now)
            if value is not None:
                p95.add_metric([check, region, name], value)
            errors = window.error_ratio(now)
            if errors is not None:
                ratio.add_metric([check, region, name], errors)
    yield from (p95, ratio)
