"""Fault 9: the config file is briefly empty, then garbage, then valid again,
while an incident is open. Nothing may resolve, page again or be lost."""

from __future__ import annotations

import pytest

from tests.faults.rig import Rig, metric
from tests.support.net import wait_for

pytestmark = pytest.mark.integration


def test_an_emptied_then_garbled_config_keeps_checks_incidents_and_pages(rig: Rig) -> None:
    rig.start_collector()
    rig.start_agents()
    wait_for(rig.reporting, 20, "both regions reporting")
    rig.target.failing = True
    wait_for(lambda: ("firing", "CheckDown") in rig.pages(), 20, "the page")
    good = rig.config.read_bytes()

    for errors, bad in enumerate([b"", b"\x00\xff garbage \x81\x00" * 50], start=1):
        rig.config.write_bytes(bad)
        wait_for(
            lambda n=errors: metric(rig, "vantage_config_reload_errors_total") >= n,  # type: ignore[misc]
            10,
            f"bad file {errors} refused",
        )
    rig.config.write_bytes(good + b"# saved again\n")
    wait_for(
        lambda: metric(rig, 'vantage_config_reloads_total{outcome="success"}') >= 1,
        10,
        "the valid file loaded",
    )
    assert rig.pages() == [("firing", "CheckDown")]  # neither resolved nor paged again

    rig.recover_and_resolve()
    rig.assert_counts([("firing", "CheckDown"), ("resolved", "CheckDown")])
