"""Group commit for metric writes: the batches of concurrent requests share one transaction.

A request's points are validated in its own thread first (a bad point is that client's 422 and
never reaches the group). It then joins the pending group. Whichever waiting thread finds no
transaction in flight becomes the group's leader: it takes every pending batch, writes them in one
transaction and wakes the others. While that transaction commits, the next group gathers, so the
window is the commit time itself (plus ``window`` seconds, 0 by default). Nobody is answered before
the transaction holding their points has committed.

Inside the group each batch is stored by
:meth:`~shipyard.tracking.service.TrackingService.store_metrics`, whose refusals (unknown run, a
batch id reused) come before it writes anything: the refused batch gets its own error and the
others go on. If the group's transaction fails as a whole (a database error, a deadlock between
server processes), nothing of it was kept, and each batch is retried alone in its own transaction,
so one batch's failure never fails another's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.tracking import validation
from shipyard.tracking.api import MetricPoint
from shipyard.tracking.service import TrackingService

logger = logging.getLogger("shipyard.tracking")

#: What :meth:`~shipyard.tracking.service.TrackingService.store_metrics` refuses a batch with,
#: before writing anything of it.
REFUSALS = (NotFound, Conflict, InvalidInput)
#: Points one group carries at most; the rest wait for the next group.
MAX_GROUP_POINTS = 50_000


@dataclass(eq=False)
class _Batch:
    run_id: str
    rows: Sequence[Sequence[object]]
    latest: validation.Latest
    batch_id: str | None
    done: bool = False
    stored: int = 0
    error: BaseException | None = None
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.rows)


class MetricGroupCommit:
    """Metric writes of many threads, committed in groups (see the module docstring)."""

    def __init__(
        self, tracking: TrackingService, *, window: float = 0.0, max_points: int = MAX_GROUP_POINTS
    ) -> None:
        self.tracking = tracking
        self.window = window
        self.max_points = max_points
        self._cond = threading.Condition()
        self._pending: list[_Batch] = []
        self._writing = False
        #: Groups committed and batches retried alone, for tests and telemetry.
        self.groups = 0
        self.retried = 0

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint], *, batch_id: str | None = None) -> int:
        """Store ``points`` and return how many were stored, once their transaction committed."""
        limits = self.tracking.limits
        validation.at_most(len(points), limits.max_metric_points, "points", "max_metric_points")
        rows, latest = validation.metric_batch(points)  # raises InvalidInput for this caller only
        if not rows:
            return 0
        batch = _Batch(run_id, rows, latest, batch_id)
        with self._cond:
            self._pending.append(batch)
        while True:
            with self._cond:
                while not batch.done and self._writing:
                    self._cond.wait()
                if batch.done:
                    break
                self._writing = True  # no group in flight: this thread leads the next one
            self._lead()
        if batch.error is not None:
            raise batch.error
        return batch.stored

    def _lead(self) -> None:
        group: list[_Batch] = []
        try:
            if self.window > 0:
                time.sleep(self.window)  # let the group grow
            with self._cond:
                size = 0
                while self._pending and (not group or size + self._pending[0].size <= self.max_points):
                    size += self._pending[0].size
                    group.append(self._pending.pop(0))
            self._commit(group)
        except BaseException as exc:  # never leave a caller waiting
            for batch in group:
                if not batch.done:
                    batch.error, batch.done = exc, True
            raise
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()

    def _commit(self, group: list[_Batch]) -> None:
        group.sort(key=lambda b: b.run_id)  # one lock order across server processes
        try:
            with self.tracking.db.write() as conn:
                for batch in group:
                    try:
                        batch.stored = self.tracking.store_metrics(
                            conn, batch.run_id, batch.rows, batch.latest, batch.batch_id
                        )
                    except REFUSALS as exc:  # refused before writing: this batch only
                        batch.error = exc
            self.groups += 1
        except Exception:
            logger.warning(
                "a group of %d metric batches failed; retrying each alone", len(group), exc_info=True
            )
            for batch in group:
                batch.error, batch.stored = None, 0
                self._alone(batch)
        with self._cond:
            for batch in group:
                batch.done = True

    def _alone(self, batch: _Batch) -> None:
        self.retried += 1
        try:
            with self.tracking.db.write() as conn:
                batch.stored = self.tracking.store_metrics(
                    conn, batch.run_id, batch.rows, batch.latest, batch.batch_id
                )
        except BaseException as exc:  # delivered to the batch's own caller
            batch.error = exc
