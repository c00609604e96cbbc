"""Sending notifications in the background, so a slow or failing channel never delays a monitor.

:meth:`NotificationDispatcher.submit` only queues; worker threads send each (notification,
notifier) pair on its own, and a failed attempt is tried again after an exponential backoff with
jitter (``base_delay_s * 2**(attempt-1)``, capped at ``max_delay_s``, then drawn between half and
all of it so that many alerts failing together do not retry in step). A notifier that rejects a
notification outright (:class:`DeliveryRejected`) is not retried. Every pair ends in exactly one
:class:`Delivery` reported to ``on_delivery``: sent, or failed after its attempts.

Retries live in memory: notifications still queued when the process dies are lost, which is why
the caller records alerts (and their state) in the database before submitting them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from shipyard.errors import Conflict, InvalidInput
from shipyard.monitoring.metrics import MonitorMetrics
from shipyard.monitoring.notifiers.base import DeliveryRejected, Notification, Notifier

log = logging.getLogger(__name__)

Outcome = Literal["sent", "failed"]


@dataclass(frozen=True)
class Delivery:
    """How sending one notification through one notifier ended."""

    notification: Notification
    notifier_name: str
    outcome: Outcome
    attempts: int
    error: str | None = None


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    notification: Notification = field(compare=False)
    notifier: Notifier = field(compare=False)
    attempts: int = field(default=0, compare=False)


class NotificationDispatcher:
    """A queue of notifications and ``workers`` threads sending them, with retries.

    Threads start on the first :meth:`submit`; :meth:`close` waits for what is queued (retries
    included) up to a timeout and reports whatever is left as failed."""

    def __init__(
        self,
        *,
        attempts: int = 5,
        base_delay_s: float = 0.5,
        max_delay_s: float = 30,
        on_delivery: Callable[[Delivery], None] | None = None,
        metrics: MonitorMetrics | None = None,
        workers: int = 2,
        max_pending: int = 10_000,
    ) -> None:
        for name, value, minimum in (
            ("attempts", attempts, 1),
            ("workers", workers, 1),
            ("max_pending", max_pending, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InvalidInput(f"{name} must be an integer >= {minimum}, got {value!r}", field=name)
        for name, delay in (("base_delay_s", base_delay_s), ("max_delay_s", max_delay_s)):
            if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay < float("inf"):
                raise InvalidInput(f"{name} must be a number >= 0, got {delay!r}", field=name)
        self.attempts = attempts
        self.base_delay_s = float(base_delay_s)
        self.max_delay_s = float(max_delay_s)
        self.workers = workers
        self.max_pending = max_pending
        self._on_delivery = on_delivery
        self._metrics = metrics
        self._queue: list[_Job] = []
        self._active = 0
        self._seq = itertools.count()
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._closed = False  # close() gave up waiting: a failing attempt is not retried any more
        self._random = random.Random()

    def __enter__(self) -> NotificationDispatcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def submit(self, notification: Notification, notifiers: Sequence[Notifier]) -> None:
        """Queue ``notification`` for each of ``notifiers`` and return at once."""
        overflow: list[_Job] = []
        with self._ready:
            if self._closing:
                raise Conflict("the notification dispatcher is closed")
            now = time.monotonic()
            for notifier in notifiers:
                job = _Job(now, next(self._seq), notification, notifier)
                if len(self._queue) + self._active >= self.max_pending:
                    overflow.append(job)
                else:
                    heapq.heappush(self._queue, job)
            self._start()
            self._ready.notify_all()
        for job in overflow:
            self._report(job, "failed", f"{self.max_pending} notifications already pending")

    def pending(self) -> int:
        """Notifications queued, waiting for a retry or being sent."""
        with self._ready:
            return len(self._queue) + self._active

    def join(self, timeout_s: float = 30) -> bool:
        """Wait until nothing is pending (retries included); False if ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while self._queue or self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._ready.wait(left)
        return True

    def close(self, timeout_s: float = 30) -> None:
        """Stop taking notifications, wait up to ``timeout_s`` for the pending ones, and report
        those still waiting (for a retry) as failed."""
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        self.join(timeout_s)
        with self._ready:
            self._closed = True
            left, self._queue = self._queue, []
            self._ready.notify_all()
        for job in left:
            self._report(job, "failed", "the dispatcher closed before the notification was delivered")
        for thread in self._threads:
            thread.join(timeout=max(0.0, min(1.0, timeout_s)))

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based) before the next one."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + self._random.random() / 2)

    def _start(self) -> None:
        while len(self._threads) < self.workers:
            thread = threading.Thread(
                target=self._work, name=f"shipyard-notify-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            with self._ready:
                while True:
                    now = time.monotonic()
                    if self._queue and self._queue[0].due <= now:
                        job = heapq.heappop(self._queue)
                        self._active += 1
                        break
                    if self._closing and not self._queue:
                        return
                    self._ready.wait(self._queue[0].due - now if self._queue else None)
            try:
                self._attempt(job)
            finally:
                with self._ready:
                    self._active -= 1
                    self._ready.notify_all()

    def _attempt(self, job: _Job) -> None:
        job.attempts += 1
        try:
            job.notifier.send(job.notification)
        except DeliveryRejected as exc:
            self._report(job, "failed", str(exc))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            with self._ready:
                closed = self._closed
            if job.attempts >= self.attempts or closed:
                self._report(job, "failed", error)
                return
            wait = self.delay(job.attempts)
            log.warning(
                "notifier %s failed attempt %d of %d for alert %s (%s); retrying in %.2fs",
                job.notifier.name, job.attempts, self.attempts, job.notification.alert_id, error, wait,
            )  # fmt: skip
            if self._metrics is not None:
                self._metrics.notification(job.notifier.name, "retried")
            with self._ready:
                job.due = time.monotonic() + wait
                heapq.heappush(self._queue, job)
                self._ready.notify_all()
        else:
            self._report(job, "sent", None)

    def _report(self, job: _Job, outcome: Outcome, error: str | None) -> None:
        if outcome == "failed":
            log.error(
                "notifier %s gave up on alert %s after %d attempt(s): %s",
                job.notifier.name, job.notification.alert_id, job.attempts, error,
            )  # fmt: skip
        if self._metrics is not None:
            self._metrics.notification(job.notifier.name, outcome)
        if self._on_delivery is not None:
            try:
                self._on_delivery(Delivery(job.notification, job.notifier.name, outcome, job.attempts, error))
            except Exception:
                log.exception("on_delivery callback failed for alert %s", job.notification.alert_id)


__all__ = ["Delivery", "NotificationDispatcher", "Outcome"]
