"""Every metric the collector exports, defined in this one module.

The collector's own counters are ordinary prometheus_client metrics on one
`CollectorRegistry` owned by `CollectorMetrics` (tests make a fresh one).
The per-(check, region) families are entries of `SERIES_FAMILIES` and
`WINDOW_FAMILIES`, rendered from `Stats` by `collector.exposition` with a
cache per series, so ingest never touches a metric object. Adding a series
is one entry here.

What each (check, region) exports was chosen by its cost at 50k checks
(docs/metrics.md): by default `probe_success`, `probe_duration_seconds`,
`probe_http_status_code`, `probe_ssl_earliest_cert_expiry`,
`vantage_probe_results_total` and the SLO window's figures, each line
labelled `check` and `region` only; what a check probes is in
`vantage_check_info{target}`, once per check. The other blackbox_exporter
names, the 1h window, the duration histogram and per-line
`instance`/`target` labels are `detailed` (opt-in, `--detailed-metrics`).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from collector.exposition import (
    Exposition,
    Family,
    Line,
    SeriesFamily,
    WindowFamily,
    default_labels,
    header,
)
from collector.model import Sample
from collector.stats.series import HISTOGRAM_BOUNDS, Series, Stats
from collector.stats.window import Figures
from common.config import CheckBase
from common.exposition import escape_label_value
from common.reasons import FailureReason


class CollectorMetrics:
    """The collector's registry and its own counters and gauges."""

    def __init__(
        self, stats: Stats, clock: Callable[[], float] = time.time, *, detailed: bool = False
    ) -> None:
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
        self.runs_skipped = Counter(
            "vantage_agent_runs_skipped_total",
            "Runs agents shed because they could not keep up: the target was"
            " not probed, and no verdict on it was made. By agent region.",
            ["region"],
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
        self.ingest_delay = Histogram(
            "vantage_ingest_delay_seconds",
            "Seconds from the end of a batch's oldest probe to its ingest (one per batch): "
            "batching, the network, and any backlog after a reconnect.",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
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
        self.check_flapping = Gauge(
            "vantage_check_flapping",
            "1 while a check's notifications are flap-damped; absent otherwise.",
            ["check"],
            registry=r,
        )
        self.alerts = Counter(
            "vantage_alerts",
            "Alert events from the evaluator and heartbeats.",
            ["alertname", "state"],
            registry=r,
        )
        stats.detailed = detailed
        self.stats = stats
        self.detailed = detailed
        self.targets: dict[str, str] = {}
        """Check -> what it probes (a URL or host:port): `vantage_check_info`'s
        `target`, and with detailed metrics every line's `instance` and `target`."""
        self.series = Exposition(
            stats, SERIES_FAMILIES, WINDOW_FAMILIES, detailed=detailed, labels=self._labels,
            clock=clock,
        )  # fmt: skip
        """The per-series families and `vantage_check_info` (`/metrics` renders both)."""
        self._departed: dict[str, set[str]] = {}
        """Region -> agents whose series stays at 0: they left it unserved."""

    def set_targets(self, checks: Iterable[CheckBase]) -> None:
        """Take each check's probed target and info from a new config; the
        cached text of every series is dropped when its labels may change.
        Runs in a thread at 50k checks: nothing here is per scrape."""
        checks = list(checks)
        self.targets = {c.name: probe_target(c) for c in checks}
        self.series.static = check_info(checks, self.targets)
        if not self.detailed:
            return  # the lines carry check and region only: still valid
        # list(): the collector calls this in a thread while ingest adds series
        for found in list(self.stats.checks.values()):
            found.text = None
            for series in list(found.regions.values()):
                series.text = None

    def _labels(self, check: str, region: str) -> str:
        if not self.detailed:
            return default_labels(check, region)
        # `instance` and `target` name what was probed, as blackbox_exporter's
        # series do after the usual relabelling, so its public dashboards work
        # (Prometheus keeps them with `honor_labels: true`). Only detailed: the
        # URL on every line was two thirds of a 50k-check scrape, and
        # `vantage_check_info{target}` carries it once per check.
        target = self.targets.get(check)
        if not target:
            return default_labels(check, region)
        value = escape_label_value(target)
        return f'{default_labels(check, region)},instance="{value}",target="{value}"'

    def agent_up(self, agent: str, region: str) -> None:
        """`agent` streams for `region`: 1, and the series of agents that
        left the region before are gone (it is served again)."""
        for gone in self._departed.pop(region, set()):
            self.agent_connected.remove(gone, region)
        self.agent_connected.labels(agent, region).set(1)

    def agent_down(self, agent: str, region: str, served: bool) -> None:
        """`agent` left. Its series goes away when other agents still serve
        `region` (a replaced pod is not an alert); it stays at 0 when the
        region is left without any, which the shipped rules alert on."""
        if served:
            self.agent_connected.remove(agent, region)
        else:
            self.agent_connected.labels(agent, region).set(0)
            self._departed.setdefault(region, set()).add(agent)


INFO_CHUNK = 5_000
"""Checks per chunk of `vantage_check_info`."""


def check_info(checks: Sequence[CheckBase], targets: Mapping[str, str]) -> list[bytes]:
    """`vantage_check_info{check, type, service, target} 1` per configured
    check, in chunks: the one place each check's target appears (join on
    `check` in PromQL)."""
    chunks = [header("vantage_check_info", "gauge", "1 per configured check, with its type, "
                     "service label and probed target (dashboard filters and joins).")]  # fmt: skip
    for start in range(0, len(checks), INFO_CHUNK):
        lines = [
            f'vantage_check_info{{check="{c.name}",type="{c.type}",'
            f'service="{escape_label_value(c.labels.get("service", ""))}",'
            f'target="{escape_label_value(targets.get(c.name, ""))}"}} 1.0\n'
            for c in checks[start : start + INFO_CHUNK]
        ]
        chunks.append("".join(lines).encode())
    return chunks


def _last(value: Callable[[Series], float | None]) -> Callable[[Series, float], list[Line]]:
    """Lines of a gauge read from a series' last result, when it has one."""

    def lines(series: Series, _now: float) -> list[Line]:
        found = value(series) if series.last is not None else None
        return [] if found is None else [("", "", float(found))]

    return lines


def _phases(series: Series, _now: float) -> list[Line]:
    last = series.last
    if last is None or last.check_type != "http":
        return []
    return [("", f',phase="{phase}"', seconds) for phase, seconds in last.phases.items()]


def probe_target(check: CheckBase) -> str:
    """What a check probes, as blackbox_exporter's `target`: its URL, or
    host:port, server or domain; "" for checks that probe nothing."""
    for field in ("url", "target", "server", "domain", "query_name"):
        value = getattr(check, field, None)
        if isinstance(value, str) and value:
            return without_userinfo(value)
    return ""


def without_userinfo(target: str) -> str:
    """`target` with any `user:password@` of a URL taken out: a label is
    public, and a password written in a URL must not reach `/metrics`."""
    parts = urlsplit(target)
    if not parts.netloc or "@" not in parts.netloc:
        return target
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def blackbox_tls_version(version: str) -> str:
    """`TLSv1.2` as blackbox_exporter writes it: `TLS 1.2`."""
    return version.replace("TLSv", "TLS ", 1) if version.startswith("TLSv") else version


def _tls_version(series: Series, _now: float) -> list[Line]:
    last = series.last
    if last is None or not last.tls_version:
        return []
    version = escape_label_value(blackbox_tls_version(last.tls_version))
    return [("", f',version="{version}"', 1.0)]


def _chain_info(series: Series, _now: float) -> list[Line]:
    last = series.last
    if last is None or last.cert_chain is None:
        return []
    names = ("fingerprint_sha256", "subject", "issuer", "subjectalternative")
    labels = "".join(
        f',{n}="{escape_label_value(v)}"' for n, v in zip(names, last.cert_chain, strict=True)
    )
    return [("", labels, 1.0)]


def _outcomes(series: Series, _now: float) -> list[Line]:
    return [("", f',outcome="{o}"', float(count)) for o, count in series.outcomes.items()]


def _histogram(series: Series, _now: float) -> list[Line]:
    if series.histogram is None:
        return []
    lines: list[Line] = []
    cumulative = 0
    for bound, count in zip(_BOUNDS, series.histogram, strict=True):
        cumulative += count
        lines.append(("_bucket", f',le="{bound}"', float(cumulative)))
    return [*lines, ("_count", "", float(cumulative)), ("_sum", "", series.duration_sum)]


def _cert_days(series: Series, now: float) -> list[Line]:
    last = series.last
    if last is None or not last.cert_not_after:
        return []
    return [("", "", (last.cert_not_after - now) / 86400)]


def _http(series: Series) -> float | None:
    last = series.last
    return float(last.status_code) if last and last.check_type == "http" else None


def _dns_lookup(series: Series) -> float | None:
    last = series.last
    if last is None:
        return None
    # An IP literal needs no lookup; blackbox reports one for every http probe.
    return last.phases.get("resolve", 0.0 if last.check_type == "http" else None)


def _http_field(value: Callable[[Sample], float]) -> Callable[[Series], float | None]:
    """A blackbox `probe_http_*` gauge, for http probes that got an answer."""

    def read(series: Series) -> float | None:
        last = series.last
        return value(last) if last and last.check_type == "http" and last.status_code else None

    return read


def _http_version(sample: Sample) -> float:
    """`1.1` or `HTTP/1.1` as blackbox's number, 0 when unknown."""
    try:
        return float(sample.http_version.removeprefix("HTTP/"))
    except ValueError:
        return 0.0


def _ip_protocol(sample: Sample) -> float:
    return 6.0 if ":" in sample.peer_address else 4.0


def ip_hash(address: str) -> float:
    """blackbox_exporter's `probe_ip_addr_hash`: FNV-1a (32 bit) of the
    address's bytes (4 for IPv4, 16 for IPv6), so it changes when the
    target moves to another address."""
    try:
        packed = ipaddress.ip_address(address.split("%", 1)[0]).packed
    except ValueError:
        return 0.0
    value = 0x811C9DC5
    for byte in packed:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return float(value)


def _peer(value: Callable[[Sample], float]) -> Callable[[Series], float | None]:
    """A gauge of the address an http probe connected to, when known."""

    def read(series: Series) -> float | None:
        last = series.last
        return value(last) if last and last.peer_address else None

    return read


def _regex_failed(series: Series) -> float | None:
    last = series.last
    if last is None or last.check_type != "http":
        return None
    return 1.0 if last.reason is FailureReason.ASSERTION else 0.0


_BOUNDS = [*(str(b) for b in HISTOGRAM_BOUNDS), "+Inf"]

SERIES_FAMILIES: list[SeriesFamily] = [
    Family("probe_success", "gauge", "Whether the last probe succeeded.",
           _last(lambda s: 1.0 if s.last and s.last.success else 0.0)),
    Family("probe_duration_seconds", "gauge", "Duration of the last probe.",
           _last(lambda s: s.last.duration if s.last else None)),
    Family("probe_http_status_code", "gauge", "HTTP status of the last probe.", _last(_http)),
    Family("probe_ssl_earliest_cert_expiry", "gauge", "Earliest certificate expiry, unix time.",
           _last(lambda s: s.last.cert_not_after if s.last else None)),
    Family("vantage_probe_results_total", "counter",
           "Probe results by outcome (success or failure reason).", _outcomes),
    # Detailed: the rest of blackbox_exporter's names, and the histogram.
    Family("probe_http_duration_seconds", "gauge", "Phase durations of the last HTTP probe.",
           _phases, detailed=True),
    Family("probe_tls_version_info", "gauge", "TLS version of the last probe.", _tls_version,
           detailed=True),
    Family("probe_dns_lookup_time_seconds", "gauge", "DNS lookup time of the last probe.",
           _last(_dns_lookup), detailed=True),
    Family("probe_http_ssl", "gauge", "Whether the last HTTP request's final hop used TLS.",
           _last(_http_field(lambda s: 1.0 if s.tls_version else 0.0)), detailed=True),
    Family("probe_http_version", "gauge", "HTTP version of the last answer.",
           _last(_http_field(_http_version)), detailed=True),
    Family("probe_http_redirects", "gauge", "Redirects the last HTTP probe followed.",
           _last(_http_field(lambda s: float(s.redirects))), detailed=True),
    Family("probe_http_content_length", "gauge", "Body length of the last HTTP answer.",
           _last(_http_field(lambda s: float(s.body_bytes))), detailed=True),
    Family("probe_http_uncompressed_body_length", "gauge",
           "Body length of the last HTTP answer, as read.",
           _last(_http_field(lambda s: float(s.body_bytes))), detailed=True),
    Family("probe_ssl_last_chain_expiry_timestamp_seconds", "gauge",
           "Earliest expiry in the verified chain, unix time.",
           _last(lambda s: s.last.cert_not_after if s.last else None), detailed=True),
    Family("probe_ip_protocol", "gauge", "IP version the last probe connected over (4 or 6).",
           _last(_peer(_ip_protocol)), detailed=True),
    Family("probe_ip_addr_hash", "gauge", "FNV-1a hash of the IP the last probe connected to.",
           _last(_peer(lambda s: ip_hash(s.peer_address))), detailed=True),
    Family("probe_ssl_last_chain_info", "gauge",
           "The leaf certificate of the last verified chain (labels), 1.", _chain_info,
           detailed=True),
    Family("probe_failed_due_to_regex", "gauge",
           "Whether the last HTTP probe failed an assertion on its answer.", _last(_regex_failed),
           detailed=True),
    Family("vantage_probe_duration_seconds", "histogram", "Probe durations.", _histogram,
           detailed=True),
    Family("vantage_tls_cert_expiry_days", "gauge",
           "Days until the earliest certificate expires.", _cert_days, detailed=True,
           volatile=True),
]  # fmt: skip
"""Families of each (check, region), from its `Series`."""


def _window(
    value: Callable[[Figures], float | None],
) -> Callable[[dict[str, Figures], float], list[Line]]:
    def lines(figures: dict[str, Figures], _now: float) -> list[Line]:
        got = [(name, value(found)) for name, found in figures.items()]
        return [("", f',window="{name}"', v) for name, v in got if v is not None]

    return lines


WINDOW_FAMILIES: list[WindowFamily] = [
    Family("vantage_check_latency_p95_seconds", "gauge",
           "p95 latency of successful probes (nearest rank).", _window(lambda f: f.p95)),
    Family("vantage_check_error_ratio", "gauge", "Failed probes / all probes.",
           _window(lambda f: f.error_ratio)),
]  # fmt: skip
"""Families of each (check, region) and each check over all regions
(`region="all"`), from the window figures."""
