"""The alertmanager notifier against Debian's real `prometheus-alertmanager`:
it routes `critical` to webhook receiver A and `warning` to B, both pointing
at our recorder, and sends the resolve after `group_interval`."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import Counter

from collector.alerting.notifiers import AlertmanagerNotifier
from tests.collector import test_notifiers as shared
from tests.collector.test_notifiers import FIRING, RESOLVED, SLOW, Recorder, build, note
from tests.support.procs import Procs
from tests.support.prom import start_alertmanager

# pytest fixtures shared with the other notifier tests
recorder, session, registry, counter = (
    shared.recorder, shared.session, shared.registry, shared.counter,
)  # fmt: skip


@pytest.fixture
def alertmanager(procs: Procs, tmp_path: Path, recorder: Recorder) -> str:
    """Alertmanager routing critical to /am/a and warning to /am/b."""
    return start_alertmanager(procs, tmp_path, recorder.base)


@pytest.mark.integration
async def test_alertmanager_routes_by_severity_and_resolves(
    alertmanager: str, recorder: Recorder, session: aiohttp.ClientSession, counter: Counter
) -> None:
    # a real clock: Alertmanager resolves a "firing" alert whose endsAt is past
    am = build(
        "alertmanager", session, counter, url=alertmanager, clock=time.time,
        generator_url="http://collector.test/api/v1/incidents",
    )  # fmt: skip
    assert isinstance(am, AlertmanagerNotifier)
    await am.send(note(FIRING, SLOW))

    [critical] = await recorder.until("/am/a", 1)
    [warning] = await recorder.until("/am/b", 1)
    for hit, alert, receiver in ((critical, FIRING, "a"), (warning, SLOW, "b")):
        body = hit.json()
        assert (body["version"], body["status"], body["receiver"]) == ("4", "firing", receiver)
        [sent] = body["alerts"]
        assert sent["labels"] == dict(alert.labels)
        assert sent["annotations"] == dict(alert.annotations)
        assert sent["startsAt"].startswith("2026-09-21T14:13:20")
        assert sent["generatorURL"] == "http://collector.test/api/v1/incidents"

    await am.send(note(RESOLVED))
    resolved = (await recorder.until("/am/a", 2))[1].json()
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"].startswith("2026-09-21T14:18:20")  # T0 + 300
    assert len(recorder.at("/am/b")) == 1  # the warning is still firing, unchanged
