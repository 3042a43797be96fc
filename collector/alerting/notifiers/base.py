"""What every notifier shares: the `Notifier` protocol, the errors a delivery
ends in and which of them are worth retrying, the tenacity retry policy, one
HTTP POST mapped to those errors, and outcome accounting.

    Exception
    └── SendError                 a delivery failed: logged and counted, never raised to the caller
        ├── TransientSendError    connection failed, timeout, HTTP 5xx or 429, SMTP 4xx: retried
        └── PermanentSendError    HTTP 4xx or 3xx, SMTP 5xx, bad certificate: retrying cannot help

Every `send` ends in exactly one `vantage_notifications_total{receiver, outcome}`
increment (outcome `success` or `failure`); a failure is also logged as
`notify.failed` with the alerts' fingerprints and the error.
"""

from __future__ import annotations

import asyncio
import functools
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import structlog
from prometheus_client import Counter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from collector.alerting.model import Alert, Notification
from common import redaction

Request = Callable[[], Awaitable[None]]
"""One attempt at one request; raises a `SendError` when it fails."""


class Notifier(Protocol):
    """Delivers notifications to one receiver."""

    async def send(self, notification: Notification) -> None:
        """Deliver `notification`; never raises: failures are counted and logged."""


class SendError(Exception):
    """A delivery failed. `fingerprints` narrows which alerts it concerned."""

    def __init__(self, message: str, fingerprints: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.fingerprints = tuple(fingerprints)


class TransientSendError(SendError):
    """Worth retrying: the receiver is down, slow, overloaded or rate-limiting."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds the server asked us to wait (HTTP Retry-After), if it did."""


class PermanentSendError(SendError):
    """Retrying cannot help: the receiver refused the request itself."""


class _Backoff(wait_base):
    """Full-jitter exponential backoff that honours Retry-After, up to `cap`."""

    def __init__(self, first: float, cap: float) -> None:
        self.jitter = wait_random_exponential(multiplier=first, max=cap)
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        asked = error.retry_after if isinstance(error, TransientSendError) else None
        return max(self.jitter(retry_state), min(asked or 0.0, self.cap))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` tries at most, none starting after `total`
    seconds, waiting a random 0..first_wait*2^n (at most `max_wait`) between
    them. Only `TransientSendError` is retried. Tests pass tiny waits."""

    attempts: int = 4
    first_wait: float = 0.5
    max_wait: float = 8.0
    total: float = 30.0

    def retrying(self, before_sleep: Callable[[RetryCallState], None]) -> AsyncRetrying:
        """A tenacity controller applying this policy."""
        return AsyncRetrying(
            retry=retry_if_exception_type(TransientSendError),
            stop=stop_after_attempt(self.attempts) | stop_before_delay(self.total),
            wait=_Backoff(self.first_wait, self.max_wait),
            before_sleep=before_sleep,
            reraise=True,
        )


@dataclass(frozen=True)
class Context:
    """What notifiers take from the collector: one shared HTTP session, the
    `vantage_notifications_total` counter (labels receiver, outcome), the
    retry policy and a clock (unix seconds)."""

    session: aiohttp.ClientSession
    counter: Counter
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.time


def redact_url(url: str, *, whole: bool) -> None:
    """Keep `url`'s secrets out of logs: its password and query values, and
    all of it when `whole` (webhook URLs are often the token themselves)."""
    parts = urllib.parse.urlsplit(url)
    secrets = [parts.password or "", *(v for _, v in urllib.parse.parse_qsl(parts.query))]
    for secret in [*secrets, url if whole else ""]:
        redaction.redact(secret)


CONCURRENCY = 8
"""Requests in flight per receiver; the rest wait their turn (backoff sleeps
hold no slot)."""


class BaseNotifier(ABC):
    """Accounting and retries around a receiver-specific `deliver`."""

    def __init__(self, name: str, context: Context, timeout: float) -> None:
        self.name = name
        self.context = context
        self.client_timeout = aiohttp.ClientTimeout(total=timeout)
        """Per request (per attempt); the policy bounds the retries."""
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self.log = structlog.get_logger().bind(receiver=name)

    async def send(self, notification: Notification) -> None:
        """Deliver, retrying what is transient; count and log the outcome.
        Never raises, except `CancelledError` (counted as a failure first)."""
        await self.account(notification.alerts, lambda: self.deliver(notification))

    @abstractmethod
    async def deliver(self, notification: Notification) -> None:
        """Deliver `notification` through `attempt`/`post`; raise `SendError` on failure."""

    async def account(self, alerts: Sequence[Alert], work: Request) -> None:
        """Run `work` and record its outcome for `alerts`."""
        fingerprints = [a.fingerprint for a in alerts]
        try:
            await work()
        except asyncio.CancelledError:
            self._failed(fingerprints, "cancelled: the collector is shutting down")
            raise
        except SendError as exc:
            self._failed(list(exc.fingerprints) or fingerprints, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in one receiver must not stop the others
            self._failed(fingerprints, f"{type(exc).__name__}: {exc}", exc_info=exc)
        else:
            self.context.counter.labels(self.name, "success").inc()
            self.log.info("notify.sent", fingerprints=fingerprints)

    def _failed(self, fingerprints: list[str], error: str, **extra: Any) -> None:
        self.context.counter.labels(self.name, "failure").inc()
        self.log.error("notify.failed", fingerprints=fingerprints, error=error, **extra)

    async def attempt(self, request: Request) -> None:
        """Run `request`, retrying transient failures under the policy."""

        # tenacity awaits only what it can tell is a coroutine function; a
        # lambda returning a coroutine would be "done" without ever running
        async def once() -> None:
            # A request's timeout starts once it has a slot: in a wide
            # outage thousands of notifications queue here, not inside the
            # HTTP pool, where waiting counted against the timeout and
            # every late one was retried (and delivered twice).
            async with self._slots:
                await request()

        await self.context.policy.retrying(self._retry_scheduled)(once)

    async def attempt_each(self, parts: Sequence[tuple[Sequence[str], Request]]) -> None:
        """Run independent requests (one per alert, one per recipient) side by
        side, each with its own retries, so one failing does not hold up or
        cancel the others. Raises one `SendError` naming the failed alerts."""
        results = await asyncio.gather(
            *(self.attempt(request) for _, request in parts), return_exceptions=True
        )
        failed = [(fps, r) for (fps, _), r in zip(parts, results, strict=True) if r is not None]
        for _, error in failed:
            if not isinstance(error, SendError):
                raise error
        if failed:
            errors = "; ".join(dict.fromkeys(str(e) for _, e in failed))  # distinct, in order
            message = f"{len(failed)} of {len(parts)} requests failed: {errors}"
            raise SendError(message, [fp for fps, _ in failed for fp in fps])

    def request(self, url: str, **kwargs: Any) -> Request:
        """One POST to `url`, ready to attempt (kwargs go to aiohttp: json, data, headers)."""
        session, limit = self.context.session, self.client_timeout
        return functools.partial(post_once, session, url, limit, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> None:
        """POST with retries; see `request`."""
        await self.attempt(self.request(url, **kwargs))

    def _retry_scheduled(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning(
            "notify.retry_scheduled", attempt=state.attempt_number, wait=wait, error=str(error)
        )


async def post_once(
    session: aiohttp.ClientSession, url: str, limit: aiohttp.ClientTimeout, **kwargs: Any
) -> None:
    """One POST; returns on 2xx, else raises the `SendError` its outcome maps to."""
    try:
        async with session.post(
            url,
            timeout=limit,
            allow_redirects=False,  # a redirect would carry the payload (and tokens) elsewhere
            **kwargs,
        ) as resp:
            if resp.status < 300:
                return
            body = await resp.text(errors="replace")
            raise status_error(resp.status, body, resp.headers.get("Retry-After"))
    except TimeoutError as exc:
        raise TransientSendError(f"timed out after {limit.total:g}s") from exc
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise PermanentSendError(f"{type(exc).__name__}: {exc}") from exc


def status_error(status: int, body: str, retry_after: str | None = None) -> SendError:
    """The error an HTTP answer `status` maps to: 429 and 5xx are transient."""
    message = f"HTTP {status}: {' '.join(body.split())[:200]}".rstrip(": ")
    if status == 429 or status >= 500:
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        return TransientSendError(message, retry_after=seconds)
    return PermanentSendError(message)
