"""Inhibition: a firing alert mutes others that it explains. Pure.

Default rules (documented in the README; `alerting.inhibit_rules` adds
more, `alerting.default_inhibit_rules: false` drops these):

1. A `DnsMismatch` with reason `dns_nxdomain` mutes the alerts of `http` and
   `tls` checks on the same `host`: the name does not resolve, so of course
   the site is down; page for the cause, not for every symptom.
2. A `CheckDown` mutes `LatencyHigh` and `ErrorRatioHigh` of the same
   `check`: an outage is already paged, the SLO alerts add nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from collector.alerting.silences import Matchers


@dataclass(frozen=True)
class InhibitRule:
    """While a `source` alert fires, `target` alerts with the same values of
    the `equal` labels are muted."""

    source: Matchers
    target: Matchers
    equal: tuple[str, ...] = ()

    def inhibits(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Whether firing `source` mutes `target`.

        Unlike Alertmanager, an `equal` label must be present on both: two
        alerts that both lack `host` are not about the same host.
        """
        return (
            self.source.matches(source)
            and self.target.matches(target)
            and all(source.get(k) and source.get(k) == target.get(k) for k in self.equal)
        )


DEFAULT_INHIBIT_RULES = (
    InhibitRule(
        source=Matchers({"alertname": "DnsMismatch", "reason": "dns_nxdomain"}),
        target=Matchers(regex={"check_type": re.compile("http|tls")}),
        equal=("host",),
    ),
    InhibitRule(
        source=Matchers({"alertname": "CheckDown"}),
        target=Matchers(regex={"alertname": re.compile("LatencyHigh|ErrorRatioHigh")}),
        equal=("check",),
    ),
)


def inhibited(
    target: Mapping[str, str],
    firing: Iterable[Mapping[str, str]],
    rules: Iterable[InhibitRule],
) -> bool:
    """Whether any firing alert (other than `target` itself) mutes `target`."""
    sources = [s for s in firing if s != target]
    return any(rule.inhibits(s, target) for rule in rules for s in sources)
