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


class InhibitIndex:
    """Firing alerts indexed by rule and by their values of the rule's
    `equal` labels. Whether an alert is muted costs one lookup per rule, not
    a scan of every firing alert: a wide outage with thousands firing stays
    linear, not quadratic."""

    def __init__(self, rules: Iterable[InhibitRule]) -> None:
        self.rules = tuple(rules)
        self._sources: list[dict[tuple[str, ...], set[str]]] = [{} for _ in self.rules]

    def add(self, fp: str, labels: Mapping[str, str]) -> None:
        """`labels` (fingerprint `fp`) fires: it may mute others."""
        for rule, index in zip(self.rules, self._sources, strict=True):
            values = _values(labels, rule.equal)
            if values is not None and rule.source.matches(labels):
                index.setdefault(values, set()).add(fp)

    def remove(self, fp: str, labels: Mapping[str, str]) -> None:
        """`labels` no longer fires."""
        for rule, index in zip(self.rules, self._sources, strict=True):
            values = _values(labels, rule.equal)
            found = None if values is None else index.get(values)
            if values is not None and found is not None:
                found.discard(fp)
                if not found:
                    del index[values]

    def inhibited(self, fp: str, labels: Mapping[str, str]) -> bool:
        """Whether a firing alert other than `fp` itself mutes `labels`."""
        for rule, index in zip(self.rules, self._sources, strict=True):
            values = _values(labels, rule.equal)
            sources = index.get(values) if values is not None else None
            if sources and (len(sources) > 1 or fp not in sources) and rule.target.matches(labels):
                return True
        return False


def _values(labels: Mapping[str, str], equal: tuple[str, ...]) -> tuple[str, ...] | None:
    """The `equal` label values, or None when one is missing or empty (two
    alerts that both lack `host` are not about the same host)."""
    values = tuple([labels.get(k, "") for k in equal])
    return values if all(values) else None


def inhibited(
    target: Mapping[str, str],
    firing: Iterable[Mapping[str, str]],
    rules: Iterable[InhibitRule],
) -> bool:
    """Whether any firing alert (other than `target` itself) mutes `target`."""
    index = InhibitIndex(rules)
    for i, source in enumerate(firing):
        if source != target:
            index.add(str(i), source)
    return index.inhibited("target", target)
