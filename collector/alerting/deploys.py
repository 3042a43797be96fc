"""Release attribution: which version of a service was live at a moment, and
whether a deploy happened shortly before it.

Deploys come from two sources: the API (`POST /api/v1/deploys`) and the
probes' release header. A header value never seen before counts as a deploy
at the time it was first seen; the very first value seen for a service is
only a baseline, because we do not know when it went live. Pure: no I/O,
times are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.alerting.rows import Parts, Rows

RECENT = 30 * 60.0
"""A deploy this long before a failure is named as its likely cause."""

_KEEP = 50  # per service: enough to attribute any open incident, bounded memory

API, HEADER, BASELINE = "api", "header", "baseline"


@dataclass(frozen=True)
class Deploy:
    """One version of a service going live at `at` (unix seconds)."""

    service: str
    version: str
    at: float
    source: str = API
    """`api`, `header` (first seen in a probe's release header) or `baseline`
    (the version live when we started watching: its deploy time is unknown)."""


@dataclass(frozen=True)
class Attribution:
    """The release live when a failure began, and the text that says so."""

    version: str
    text: str


def humanize(seconds: float) -> str:
    """`45s`, `3m`, `2h5m`: how long, in the words an on-call engineer reads."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"


class Deploys:
    """Deploy records per service, sorted by time."""

    PARTS = ("services",)
    """The parts of `export`, saved as rows (`take_rows`): one per service."""

    def __init__(self) -> None:
        self._by_service: dict[str, list[Deploy]] = {}
        self.changes = Parts(self.PARTS)
        """The services whose records changed since `take_rows`: there is a
        baseline per service (50,000 at 50,000 checks), and results with a
        new release arrive in bursts, so writing every record whenever one
        changed held the event loop 0.2-0.5 s a save."""

    def record(self, service: str, version: str, at: float, source: str = API) -> Deploy:
        """Record a deploy. An API record replaces a header sighting of the
        same version: the pipeline knows the real time, the probe only when it
        first noticed."""
        deploy = Deploy(service, version, at, source)
        kept = [d for d in self._by_service.get(service, []) if d.version != version]
        kept.append(deploy)
        kept.sort(key=lambda d: d.at)
        self._by_service[service] = kept[-_KEEP:]
        self.changes.mark("services", service)
        return deploy

    def observe_release(self, service: str, version: str, at: float) -> Deploy | None:
        """Note a release header value; returns the deploy it implies, if new."""
        known = self._by_service.get(service)
        if not version or (known and known[-1].version == version):
            return None  # the common case, on every result: the live version again
        if known and any(d.version == version for d in known):
            return None
        # Rolling deploys show old and new versions alternately: only a
        # version never seen before is a deploy, so they do not pile up.
        return self.record(service, version, at, HEADER if known else BASELINE)

    def live_at(self, service: str, at: float) -> Deploy | None:
        """The latest deploy of `service` at or before `at`."""
        earlier = [d for d in self._by_service.get(service, []) if d.at <= at]
        return earlier[-1] if earlier else None

    def attribute(self, service: str, at: float, seen_version: str = "") -> Attribution:
        """Name the version live when a failure began at `at`.

        `seen_version` is the release header of the failing result itself,
        which beats any record when present.
        """
        deploy = self.live_at(service, at)
        version = seen_version or (deploy.version if deploy else "")
        if deploy and deploy.source != BASELINE and at - deploy.at <= RECENT:
            after = "just after" if at - deploy.at < 1 else f"{humanize(at - deploy.at)} after"
            return Attribution(version, f"started {after} deploy {service} {deploy.version}")
        return Attribution(version, f"release {service} {version}" if version else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state, for persistence: records by service."""
        return {service: _records(deploys) for service, deploys in self._by_service.items()}

    def export(self) -> dict[str, Any]:
        """`to_dict` as rows (see `rows.py`), by part and service."""
        return {"services": {s: {"records": r} for s, r in self.to_dict().items()}}

    def take_rows(self, most: int | None = None) -> dict[str, Rows]:
        """The rows of `export` that changed since the last call, at most
        `most` (`rows.Parts`)."""
        by_service = self._by_service

        def row_of(service: str) -> dict[str, Any] | None:
            deploys = by_service.get(service)
            return None if deploys is None else {"records": _records(deploys)}

        return self.changes.take({"services": row_of}, self.export, most)

    def load(self, data: dict[str, Any]) -> None:
        """Restore what `to_dict` returned (from rows: `from_rows` first)."""
        self._by_service = {
            service: [Deploy(service, str(v), float(at), str(src)) for v, at, src in rows]
            for service, rows in data.items()
        }

    @staticmethod
    def from_rows(parts: dict[str, Any]) -> dict[str, Any]:
        """`export`'s rows, as `to_dict` returned them (for `load`)."""
        return {service: row["records"] for service, row in parts["services"].items()}


def _records(deploys: list[Deploy]) -> list[list[Any]]:
    return [[d.version, d.at, d.source] for d in deploys]
