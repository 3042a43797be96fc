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
from tests.support.binaries import require_binary
from tests.support.net import free_port, http_get, wait_for
from tests.support.procs import Procs

# pytest fixtures shared with the other notifier tests
recorder, session, registry, counter = (
    shared.recorder, shared.session, shared.registry, shared.counter,
)  # fmt: skip

CONFIG = """\
route:
  receiver: nobody
  group_by: [alertname, check]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - {{matchers: ['severity="critical"'], receiver: a}}
    - {{matchers: ['severity="warning"'], receiver: b}}
receivers:
  - name: nobody
  - name: a
    webhook_configs: [{{url: "{base}/am/a", send_resolved: true}}]
  - name: b
    webhook_configs: [{{url: "{base}/am/b", send_resolved: true}}]
"""


@pytest.fixture
def alertmanager(procs: Procs, tmp_path: Path, recorder: Recorder) -> str:
    """Alertmanager in the foreground, gossip off; returns its base URL."""
    binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(base=recorder.base))
    port = free_port()
    procs.start(
        "alertmanager",
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # else it gossips on 0.0.0.0:9094
        ],
    )
    url = f"http://127.0.0.1:{port}"
    # blocking is fine here: nothing posts to the recorder until Alertmanager is up
    wait_for(lambda: http_get(f"{url}/-/ready")[0] == 200, 20, "alertmanager /-/ready")
    return url


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
