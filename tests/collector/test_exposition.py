"""`/metrics` for the per-series families, and the p95 agreement: the
dashboard's p95 and the SLO alert's decision come from one window engine."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.alerting.evaluator import CheckPolicy, Evaluator
from collector.exposition import Exposition, Family, Line
from collector.metrics import (
    SERIES_FAMILIES,
    WINDOW_FAMILIES,
    CollectorMetrics,
    without_userinfo,
)
from collector.model import Sample
from collector.stats.series import Series, Stats
from common.config.http import HttpCheck
from common.reasons import FailureReason

REGIONS = ("eu-west", "us-east", "ap-south")


def result(at: float, region: str, duration: float, ok: bool = True, **fields: object) -> Sample:
    reason = FailureReason.NONE if ok else FailureReason.HTTP_STATUS
    return Sample(
        check="home", region=region, agent_id=f"agent-{region}", at=at, duration=duration,
        success=ok, check_type="http", reason=reason, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


async def scrape(exposition: Exposition) -> str:
    return b"".join([chunk async for chunk in exposition.render()]).decode()


def values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def _durations(n: int, slow: int, fast: float = 0.2, high: float = 0.9) -> list[float]:
    return [fast] * (n - slow) + [high] * slow


AGREEMENT = [
    pytest.param(_durations(10, 1), id="10-samples-one-slow"),  # old rules: 0.2 vs 0.9
    pytest.param(_durations(20, 1), id="20-samples-one-slow"),
    pytest.param(_durations(20, 2), id="20-samples-two-slow"),
    pytest.param(_durations(21, 2), id="21-samples-two-slow"),
    pytest.param(_durations(40, 2), id="40-samples-two-slow"),
    pytest.param(_durations(6, 0, fast=0.45), id="all-within-budget"),
    pytest.param(_durations(12, 1, high=0.6), id="warning-level"),
]


@pytest.mark.parametrize("durations", AGREEMENT)
def test_dashboard_p95_and_latency_alert_agree(durations: list[float]) -> None:
    now = 1000.0
    samples = [
        result(now - 200 + i, REGIONS[i % 3], d) for i, d in enumerate(durations)
    ]  # interleaved regions, all inside the 5-minute window
    stats = Stats()
    stats.ingest(samples, now)
    policy = CheckPolicy(name="home", check_type="http", interval=60.0, regions=REGIONS)
    evaluator = Evaluator([policy], now=now - 300)
    evaluator.observe_all(samples, now)
    alerts = evaluator.tick(now)
    exposition = Exposition(stats, SERIES_FAMILIES, WINDOW_FAMILIES, clock=lambda: now)
    text = asyncio.run(scrape(exposition))
    labels = (("check", "home"), ("region", "all"), ("window", "5m"))
    shown = values(text, "vantage_check_latency_p95_seconds")[labels]
    fired = [a for a in alerts if a.labels["alertname"] == "LatencyHigh"]
    over = shown > policy.slo.p95_warning
    assert bool(fired) == over, (shown, fired)
    if fired:
        critical = shown > policy.slo.p95_critical
        assert fired[0].labels["severity"] == ("critical" if critical else "warning")
        assert f"p95 latency {round(shown * 1000)}ms" in fired[0].annotations["summary"]


HTTPS: dict[str, Any] = {
    "phases": {"resolve": 0.001, "connect": 0.002, "processing": 0.01, "transfer": 0.001},
    "status_code": 200, "tls_version": "TLSv1.3", "cert_not_after": 101.0 + 86400 * 30,
    "http_version": "HTTP/1.1", "peer_address": "127.0.0.1", "body_bytes": 10,
    "cert_chain": ("ab" * 32, "CN=home", "CN=CA", "home.example.com"),
}  # fmt: skip
"""Everything an https probe reports: every family has something to show."""

DEFAULT_FAMILIES = {
    "probe_success", "probe_duration_seconds", "probe_http_status_code",
    "probe_ssl_earliest_cert_expiry", "vantage_probe_results",
    "vantage_check_latency_p95_seconds", "vantage_check_error_ratio", "vantage_check_info",
}  # fmt: skip


def _https_stats(detailed: bool = False) -> Stats:
    stats = Stats(detailed=detailed)
    stats.ingest(
        [result(100.0, "eu-west", 0.1, **HTTPS),
         result(101.0, "us-east", 0.3, ok=False, **(HTTPS | {"status_code": 503}))],
        101.0,
    )  # fmt: skip
    return stats


def _metrics_scrape(detailed: bool) -> str:
    metrics = CollectorMetrics(_https_stats(detailed), lambda: 101.0, detailed=detailed)
    url = "https://ops:hunter2@home.example.com/login"  # pragma: allowlist secret
    metrics.set_targets([HttpCheck(name="home", url=url)])
    return asyncio.run(scrape(metrics.series))


def test_default_families_are_few_and_their_label_sets_bounded() -> None:
    text = _metrics_scrape(detailed=False)
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(names) == len(set(names))  # one group per family
    families = list(text_string_to_metric_families(text))
    assert {f.name for f in families} == DEFAULT_FAMILIES
    allowed = {"check", "region", "outcome", "window"}
    for family in families:
        for sample in family.samples:
            if family.name == "vantage_check_info":
                assert set(sample.labels) == {"check", "type", "service", "target"}
                continue
            assert set(sample.labels) <= allowed, (sample.name, sample.labels)
            assert sample.labels.get("window", "5m") == "5m"
    assert values(text, "vantage_check_info") == {
        (("check", "home"), ("service", ""), ("target", "https://home.example.com/login"),
         ("type", "http")): 1.0
    }  # fmt: skip
    regional = [line for line in text.splitlines() if 'region="eu-west"' in line]
    assert len(regional) == 7  # the default cost of one http series
    assert values(text, "probe_success") == {
        (("check", "home"), ("region", "eu-west")): 1.0,
        (("check", "home"), ("region", "us-east")): 0.0,
    }
    assert (
        values(text, "vantage_check_error_ratio")[
            (("check", "home"), ("region", "all"), ("window", "5m"))
        ]
        == 0.5
    )
    assert (
        values(text, "vantage_probe_results_total")[
            (("check", "home"), ("outcome", "http_status"), ("region", "us-east"))
        ]
        == 1.0
    )


def test_detailed_metrics_add_blackbox_families_the_hour_window_and_the_target() -> None:
    text = _metrics_scrape(detailed=True)
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {s.name.removesuffix("_total") for s in SERIES_FAMILIES} - names == set()
    eu = (("check", "home"), ("instance", "https://home.example.com/login"))
    target = (("target", "https://home.example.com/login"),)
    assert values(text, "probe_http_duration_seconds")[
        (*eu, ("phase", "processing"), ("region", "eu-west"), *target)
    ] == 0.01  # fmt: skip
    assert values(text, "vantage_tls_cert_expiry_days") == {
        (*eu, ("region", "eu-west"), *target): 30.0,
        (*eu, ("region", "us-east"), *target): 30.0,
    }
    windows = values(text, "vantage_check_latency_p95_seconds")
    assert {dict(k)["window"] for k in windows} == {"5m", "1h"}


class Counting:
    """A family that counts how often a series is rendered."""

    def __init__(self) -> None:
        self.rendered: list[float] = []

    def __call__(self, series: Series, now: float) -> list[Line]:
        self.rendered.append(now)
        return [("", "", 1.0)]


@pytest.mark.parametrize(
    ("second_scrape_at", "new_result", "renders"),
    [
        (110.0, False, 0),  # nothing changed
        (110.0, True, 1),  # a result arrived: that series only
        (400.5, False, 1),  # the first result left the 5-minute window
    ],
    ids=["unchanged", "new-result", "window-slid"],
)
def test_a_scrape_renders_only_what_changed(
    second_scrape_at: float, new_result: bool, renders: int
) -> None:
    now = [100.0]
    stats = Stats()
    stats.ingest([result(100.0, "eu-west", 0.1), result(105.0, "us-east", 0.1)], 105.0)
    counting = Counting()
    family = Family("t", "gauge", "Test.", counting)
    exposition = Exposition(stats, [family], WINDOW_FAMILIES, clock=lambda: now[0])
    asyncio.run(scrape(exposition))
    assert len(counting.rendered) == 2
    now[0] = second_scrape_at
    if new_result:
        stats.ingest([result(second_scrape_at, "us-east", 0.2)], second_scrape_at)
    asyncio.run(scrape(exposition))
    assert len(counting.rendered) == 2 + renders


def test_a_label_value_beyond_ascii_keeps_every_family_whole() -> None:
    stats = Stats(detailed=True)
    chain = ("ab" * 32, "CN=Zürich Straße", "CN=CA", "zürich.example")
    stats.ingest([result(100.0, "eu-west", 0.1, **(HTTPS | {"cert_chain": chain}))], 100.0)
    exposition = Exposition(
        stats, SERIES_FAMILIES, WINDOW_FAMILIES, detailed=True, clock=lambda: 100.0
    )
    text = asyncio.run(scrape(exposition))
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(names) == len(set(names))
    (labels,) = values(text, "probe_ssl_last_chain_info")
    assert dict(labels)["subject"] == "CN=Zürich Straße"
    assert values(text, "probe_ip_protocol") == {(("check", "home"), ("region", "eu-west")): 4.0}


@pytest.mark.parametrize("detailed", [False, True], ids=["default", "detailed"])
def test_an_unchanged_scrape_renders_nothing_and_copies_the_same_bytes(detailed: bool) -> None:
    metrics = CollectorMetrics(_https_stats(detailed), lambda: 101.0, detailed=detailed)
    metrics.set_targets([HttpCheck(name="home", url="https://home.example.com/")])
    first = asyncio.run(scrape(metrics.series))
    assert metrics.series.renders == 3  # two regions and the check's `all`
    metrics.set_targets([HttpCheck(name="home", url="https://home.example.com/")])
    again = asyncio.run(scrape(metrics.series))
    # A reload drops the cache only when the lines carry the target.
    assert metrics.series.renders == (6 if detailed else 3)
    assert again == first


def test_a_scrape_yields_to_the_event_loop_between_chunks() -> None:
    stats = Stats()
    stats.ingest([result(100.0, f"r{i}", 0.1) for i in range(3000)], 100.0)

    async def main() -> tuple[int, int]:
        turns = 0
        done = asyncio.Event()

        async def other() -> None:  # stands for /healthz and ingest
            nonlocal turns
            while not done.is_set():
                turns += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        exposition = Exposition(stats, SERIES_FAMILIES, WINDOW_FAMILIES, clock=lambda: 100.0)
        text = await scrape(exposition)
        done.set()
        await task
        return turns, text.count("probe_success{")

    turns, lines = asyncio.run(main())
    assert lines == 3000
    assert turns >= 3000 // 500  # at least once per chunk of rendering


def test_changes_are_rendered_in_the_background_at_most_so_many_a_pass() -> None:
    stats = Stats()
    stats.ingest([result(100.0, f"r{i}", 0.1) for i in range(30)], 100.0)
    counting = Counting()
    exposition = Exposition(
        stats, [Family("t", "gauge", "Test.", counting)], [], clock=lambda: 100.0
    )

    async def two_passes() -> int:
        task = asyncio.create_task(exposition.keep_fresh(every=0, most=20))
        while not counting.rendered:
            await asyncio.sleep(0)
        first = len(counting.rendered)  # the first pass stops at 20
        while len(counting.rendered) < 30:
            await asyncio.sleep(0)
        task.cancel()
        return first

    assert asyncio.run(asyncio.wait_for(two_passes(), 5)) == 20
    assert len(counting.rendered) == 30
    asyncio.run(scrape(exposition))
    assert len(counting.rendered) == 30  # the scrape rendered nothing again


@pytest.mark.parametrize(
    ("passes", "rendered"),
    [
        ((210.0,), 0),  # nothing changed since the first pass
        ((400.5,), 2),  # eu-west's result left its 5-minute window: it and `all`
        ((400.5, 500.5), 4),  # and then us-east's: it and `all` again
    ],
    ids=["unchanged", "one-region-slid", "both-slid"],
)
def test_the_background_pass_renders_a_region_whose_window_slid_alone(
    passes: tuple[float, ...], rendered: int
) -> None:
    stats = Stats()
    stats.ingest([result(100.0, "eu-west", 0.1), result(200.0, "us-east", 0.1)], 200.0)
    exposition = _fresh(stats, passes[-1])
    asyncio.run(exposition._refresh(205.0, 100))
    assert exposition.renders == 3  # two regions and the check's `all`
    for at in passes:
        asyncio.run(exposition._refresh(at, 100))
    assert exposition.renders == 3 + rendered
    # what the passes left cached is what a fresh render shows
    assert asyncio.run(scrape(exposition)) == asyncio.run(scrape(_fresh(stats, passes[-1])))
    assert exposition.renders == 3 + rendered


def _fresh(stats: Stats, now: float) -> Exposition:
    return Exposition(stats, SERIES_FAMILIES, WINDOW_FAMILIES, clock=lambda: now)


@pytest.mark.parametrize(
    ("target", "label"),
    [
        ("https://www.example.com/login?next=/", "https://www.example.com/login?next=/"),
        (
            "https://ops:hunter2@www.example.com/",  # pragma: allowlist secret
            "https://www.example.com/",
        ),
        ("http://user@[::1]:8080/x", "http://[::1]:8080/x"),
        ("db.example.com:5432", "db.example.com:5432"),
    ],
    ids=["plain", "user-password", "user-ipv6", "host-port"],
)
def test_the_target_label_never_carries_userinfo(target: str, label: str) -> None:
    assert without_userinfo(target) == label
