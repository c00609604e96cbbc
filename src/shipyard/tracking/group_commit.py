"""Group commit for metric writes: the batches of concurrent requests share one transaction.

A request's points are validated by its caller first (a bad point is that client's 422 and never
reaches the group). The batch then joins the pending group, and the caller gets a future. A
writer thread takes every pending batch, writes them in one transaction and resolves their
futures; while that transaction commits, the next group gathers, so the window is the commit time
itself (plus ``window`` seconds, 0 by default). No future is resolved before the transaction
holding its points has committed. There is one writer on SQLite and two on PostgreSQL (see
``writers``); writers are started by batches and stop after a few idle seconds, so an app that
takes no writes holds no thread.

The group is stored by
:meth:`~shipyard.tracking.service.TrackingService.store_metric_batches` (three statements,
whatever the number of batches), whose refusals (unknown run, a batch id reused) are per batch and
come before anything of that batch is written: the refused batch gets its own error and the others
go on. If the group's transaction fails as a whole (a database error, a deadlock between
server processes), nothing of it was kept, and each batch is retried alone in its own transaction,
so one batch's failure never fails another's.

Threads call :meth:`MetricGroupCommit.log_metrics`, which waits; the server's event loop calls
:meth:`MetricGroupCommit.submit` and awaits the future (see :mod:`shipyard.server.ingest`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from shipyard.tracking import validation
from shipyard.tracking.metric_writes import MetricBatch
from shipyard.tracking.service import TrackingService

logger = logging.getLogger("shipyard.tracking")

#: Points one group carries at most; the rest wait for the next group.
MAX_GROUP_POINTS = 50_000
#: Seconds the writer thread waits for a batch before it stops (the next batch starts another).
IDLE_SECONDS = 2.0


@dataclass(eq=False)
class _Batch:
    points: MetricBatch
    future: Future[int] = field(default_factory=Future)

    @property
    def size(self) -> int:
        return len(self.points.rows)


class MetricGroupCommit:
    """Metric writes of many callers, committed in groups (see the module docstring)."""

    def __init__(
        self,
        tracking: TrackingService,
        *,
        window: float = 0.0,
        max_points: int = MAX_GROUP_POINTS,
        idle_seconds: float = IDLE_SECONDS,
        writers: int | None = None,
    ) -> None:
        self.tracking = tracking
        self.window = window
        self.max_points = max_points
        self.idle_seconds = idle_seconds
        #: Groups in flight at once: one on SQLite (one writer at a time anyway), two on
        #: PostgreSQL, where a group's commit waits on the server and the next can be written
        #: meanwhile (each client has one batch in flight, so two groups never hold the same
        #: client's run; and both take row locks in run order).
        self.writers = writers or (2 if tracking.db.engine.dialect.name == "postgresql" else 1)
        self._cond = threading.Condition()
        self._pending: deque[_Batch] = deque()
        self._running = 0  # writer threads
        self._idle = 0  # writer threads waiting for a batch
        #: Groups committed and batches retried alone, for tests and telemetry.
        self.groups = 0
        self.retried = 0

    def log_metrics(
        self, run_id: str, points: Sequence[Sequence[object]], *, batch_id: str | None = None
    ) -> int:
        """Store ``points`` and return how many were stored, once their transaction committed."""
        return self.submit(run_id, points, batch_id=batch_id).result()

    def submit(
        self, run_id: str, points: Sequence[Sequence[object]], *, batch_id: str | None = None
    ) -> Future[int]:
        """Validate ``points`` (InvalidInput is raised here, for this caller only) and queue them;
        the future gives how many were stored once their transaction committed, or the batch's
        own refusal."""
        limits = self.tracking.limits
        validation.at_most(len(points), limits.max_metric_points, "points", "max_metric_points")
        rows, latest = validation.metric_batch(points)
        batch = _Batch(MetricBatch(run_id, rows, latest, batch_id))
        if not rows:
            batch.future.set_result(0)
            return batch.future
        with self._cond:
            self._pending.append(batch)
            if self._idle:
                self._cond.notify()
            elif self._running < self.writers:
                self._running += 1
                threading.Thread(target=self._write, name="metric-group-commit", daemon=True).start()
        return batch.future

    def _write(self) -> None:
        try:
            while (group := self._next_group()) is not None:
                try:
                    self._commit(group)
                except BaseException as exc:  # never leave a caller waiting
                    for batch in group:
                        if not batch.future.done():
                            batch.future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            with self._cond:
                self._running -= 1

    def _next_group(self) -> list[_Batch] | None:
        """The pending batches (up to ``max_points``), or None after ``idle_seconds`` without any
        (the writer then stops; the next batch starts another). A writer woken for batches that
        another writer took meanwhile waits again: it is not idle, and stopping it would cost a
        new thread for the next batch."""
        while True:
            with self._cond:
                while not self._pending:
                    self._idle += 1
                    notified = self._cond.wait(self.idle_seconds)
                    self._idle -= 1
                    if not notified and not self._pending:
                        return None
            if self.window > 0:
                time.sleep(self.window)  # let the group grow
            group: list[_Batch] = []
            with self._cond:
                size = 0
                while self._pending and (not group or size + self._pending[0].size <= self.max_points):
                    size += self._pending[0].size
                    group.append(self._pending.popleft())
            if group:
                return group

    def _commit(self, group: list[_Batch]) -> None:
        group.sort(key=lambda b: b.points.run_id)  # one lock order across server processes
        outcomes: list[int | Exception]
        try:
            with self.tracking.db.write() as conn:
                outcomes = [*self.tracking.store_metric_batches(conn, [b.points for b in group])]
            self.groups += 1
        except Exception:
            logger.warning(
                "a group of %d metric batches failed; retrying each alone", len(group), exc_info=True
            )
            outcomes = [self._alone(batch) for batch in group]
        for batch, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                batch.future.set_exception(outcome)
            else:
                batch.future.set_result(outcome)

    def _alone(self, batch: _Batch) -> int | Exception:
        self.retried += 1
        try:
            with self.tracking.db.write() as conn:
                (outcome,) = self.tracking.store_metric_batches(conn, [batch.points])
        except Exception as exc:  # delivered to the batch's own caller
            return exc
        return outcome
