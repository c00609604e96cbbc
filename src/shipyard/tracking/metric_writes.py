"""Storing metric points: the statements behind ``log_metrics``, the group commit and a run's end.

Validated batches (:func:`~shipyard.tracking.validation.metric_batch`) of any number of runs are
stored in three statements inside the caller's transaction: the runs checked, the points inserted
(binary ``COPY`` on PostgreSQL, see :mod:`shipyard.storage.metadata.bulk`), the latest value of each
key kept. A batch with a ``batch_id`` seen before stores nothing, so a retry never duplicates.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from shipyard.errors import Conflict, NotFound, ShipyardError
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.bulk import insert_tuples, upsert_tuples
from shipyard.storage.metadata.upsert import insert_ignore
from shipyard.tracking import validation
from shipyard.tracking.tables import LatestMetricRow, MetricBatchRow, MetricRow

metrics_t = table(MetricRow)
latest_t = table(LatestMetricRow)
batches_t = table(MetricBatchRow)

METRIC_COLUMNS = ("key", "value", "step", "timestamp")

#: A metric point replaces its key's latest value when its step is higher, or equal with a later
#: (or the same) timestamp.
_NEWER = (
    "excluded.step > {table}.step OR "
    "(excluded.step = {table}.step AND excluded.timestamp >= {table}.timestamp)"
)


def _existing_runs(conn: Connection, run_ids: list[str]) -> set[str]:
    """Which of ``run_ids`` exist: on PostgreSQL also held against deletion (``FOR KEY SHARE``,
    in id order) until the transaction ends; SQLite has one writer at a time. One statement the
    driver prepares once (no expanding ``IN`` to render per call)."""
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql(
            "SELECT id FROM runs WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", (run_ids,)
        )
    else:
        found = conn.exec_driver_sql(
            f"SELECT id FROM runs WHERE id IN ({', '.join('?' * len(run_ids))})", tuple(run_ids)
        )
    return {row[0] for row in found}


@dataclass(frozen=True)
class MetricBatch:
    """Validated points of one run (see :func:`validation.metric_batch`), as one call logs them."""

    run_id: str
    rows: Sequence[Sequence[object]]
    latest: validation.Latest
    batch_id: str | None = None


def store_batches(
    conn: Connection, batches: Sequence[MetricBatch], *, locked: Collection[str] = ()
) -> list[int | ShipyardError]:
    """Store ``batches`` inside ``conn``'s transaction, in three statements whatever their number;
    returns each batch's outcome: how many points were stored (0 for a batch id seen before), or
    its refusal (:class:`NotFound` for an unknown run, :class:`Conflict` for a batch id reused with
    other points). A refused batch writes nothing; the others are stored (group commit, see
    :mod:`shipyard.tracking.group_commit`). ``locked`` are runs the caller's transaction has already
    read and locked (a run's end): they are not checked again."""
    # The runs, checked once (``metrics`` has no foreign key) and held against deletion until
    # the points commit (PostgreSQL; SQLite has one writer at a time).
    unchecked = sorted({b.run_id for b in batches}.difference(locked))
    known = _existing_runs(conn, unchecked) if unchecked else set()
    known.update(locked)
    outcomes: list[int | ShipyardError] = []
    accepted: list[MetricBatch] = []
    latest: dict[tuple[str, str], tuple[int, int, float]] = {}
    for batch in batches:
        if batch.run_id not in known:
            outcomes.append(NotFound(f"run {batch.run_id!r} does not exist", field="run_id"))
            continue
        if batch.batch_id is not None:
            seen = _claim_batch(conn, batch)
            if seen is not None:
                outcomes.append(seen)
                continue
        accepted.append(batch)
        for k, newest in batch.latest.items():
            held = latest.get((batch.run_id, k))
            if held is None or newest[:2] >= held[:2]:
                latest[(batch.run_id, k)] = newest
        outcomes.append(len(batch.rows))
    if len(accepted) == 1:  # the SDK's case: the run id once, not in every row
        only = accepted[0]
        insert_tuples(conn, metrics_t, METRIC_COLUMNS, only.rows, constants={"run_id": only.run_id})
    elif accepted:
        rows = [(b.run_id, *row) for b in accepted for row in b.rows]
        insert_tuples(conn, metrics_t, ("run_id", *METRIC_COLUMNS), rows)
    upsert_tuples(
        conn,
        latest_t,
        ("run_id", "key", "value", "step", "timestamp"),
        [
            (r, k, None if v != v else v, s, t)
            for (r, k), (s, t, v) in sorted(latest.items())  # one lock order across writers
        ],
        keys=("run_id", "key"),
        update=("value", "step", "timestamp"),
        where=_NEWER,
    )
    return outcomes


def _claim_batch(conn: Connection, batch: MetricBatch) -> int | Conflict | None:
    """Record ``batch``'s id with its digest: None when it is new, 0 when the same points were
    stored under it before (a retry), Conflict when other points were."""
    digest = validation.points_digest(batch.rows)
    row = {"run_id": batch.run_id, "batch_id": batch.batch_id, "digest": digest}
    if insert_ignore(conn, batches_t, [row]):
        return None
    stored = conn.execute(
        select(batches_t.c.digest).where(
            batches_t.c.run_id == batch.run_id, batches_t.c.batch_id == batch.batch_id
        )
    ).scalar_one()
    if stored is not None and stored != digest:
        return Conflict(
            f"batch {batch.batch_id!r} of run {batch.run_id} was stored before with other points; "
            "a batch id names one batch (use a new id for new points)",
            field="batch_id",
        )
    return 0
