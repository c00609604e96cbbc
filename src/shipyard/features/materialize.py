"""Materialization: copy the newest row per entity key of each online feature view from the offline
store into the online store, for a time window, and remember how far each view got.

Per view: ``OfflineStore.latest_per_entity(view, start, end)`` batches -> encode keys and values
(:mod:`shipyard.features.online`) -> ``OnlineStore.write`` into the view version's namespace.
The online store keeps the value with the newer event time per key, so a re-run, a resumed run or
overlapping windows converge to the same state. A ``feature_materializations`` row records each
run (``running`` -> ``succeeded`` | ``failed``); the view's watermark (``feature_watermarks``) moves
to ``end`` only after the whole window is written, so a run killed half-way is redone, from the
same start, by the next ``materialize_incremental``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import and_, or_, select, update

from shipyard.core.clock import now_ms, to_datetime, to_ms
from shipyard.core.ids import new_id
from shipyard.errors import InvalidInput
from shipyard.events import log as event_log
from shipyard.features.events import FeatureMaterialized
from shipyard.features.model import FeatureView
from shipyard.features.online.codec import ValueCodec
from shipyard.features.online.keys import KeyEncoder
from shipyard.features.online.reader import namespace
from shipyard.features.selection import ViewSelection
from shipyard.features.tables import FeatureMaterializationRow, FeatureWatermarkRow
from shipyard.storage.kv import OnlineStore
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.upsert import upsert

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shipyard.features.offline import OfflineStore
    from shipyard.storage.metadata.database import Database

Progress = Callable[[str, int, int | None], None]

#: Where ``materialize_incremental`` starts a view that was never materialized.
BEGINNING = datetime(1900, 1, 1, tzinfo=UTC)
#: Rows per batch read from the offline store (and per online write).
BATCH_ROWS = 100_000
#: The actor of ``feature.materialized`` events: materialization is run by a job, not a user.
MATERIALIZE_ACTOR = "shipyard.materialize"
EVENT_COLUMN = "event_ts"
_NOT_FEATURES = frozenset({"event_ts", "created_ts"})

RUNNING, SUCCEEDED, FAILED, SKIPPED = "running", "succeeded", "failed", "skipped"


@dataclass(frozen=True)
class MaterializationResult:
    """One view's run. ``status`` is ``succeeded``, ``failed`` or ``skipped`` (nothing to do: the
    watermark is already at ``end``; no run is recorded and ``id`` is empty)."""

    id: str
    view_name: str
    view_version: int
    start: datetime
    end: datetime
    rows_read: int
    keys_written: int
    status: str
    error: str | None = None
    seconds: float = 0.0


def materialize(
    db: Database,
    offline: OfflineStore,
    online: OnlineStore,
    views: Sequence[ViewSelection],
    start: datetime,
    end: datetime,
    *,
    progress: Progress | None = None,
) -> list[MaterializationResult]:
    """Materialize ``start <= event_ts < end`` for every online view, one after the other.

    A view that fails is recorded as ``failed`` and its error is raised (the views before it
    stay materialized; their watermarks moved)."""
    start, end = _aware(start, "start"), _aware(end, "end")
    if start >= end:
        raise InvalidInput(
            f"start ({start.isoformat()}) must be before end ({end.isoformat()})", field="start"
        )
    return [_run(db, offline, online, s, start, end, progress) for s in views if s.view.online]


def materialize_incremental(
    db: Database,
    offline: OfflineStore,
    online: OnlineStore,
    views: Sequence[ViewSelection],
    end: datetime | None = None,
    *,
    progress: Progress | None = None,
) -> list[MaterializationResult]:
    """Materialize each online view from its watermark (never materialized, or materialized at
    another version: from :data:`BEGINNING`) up to ``end`` (default: now)."""
    end = to_datetime(now_ms()) if end is None else _aware(end, "end")
    results = []
    for selection in views:
        if not selection.view.online:
            continue
        with db.read() as conn:
            mark = _watermark(conn, selection)
        start = BEGINNING if mark is None else to_datetime(mark)
        if start >= end:
            results.append(
                MaterializationResult("", selection.view.name, selection.version, start, end, 0, 0, SKIPPED)
            )
            continue
        results.append(_run(db, offline, online, selection, start, end, progress))
    return results


def write_rows(
    online: OnlineStore, selection: ViewSelection, rows: pa.RecordBatch | pa.Table
) -> tuple[int, int]:
    """Encode rows (join keys, the view's features, ``event_ts``) and write them to the view
    version's namespace; returns (rows given, keys written). Rows with a null key are skipped.
    Also the way pushed rows reach the online store."""
    if rows.num_rows == 0:
        return 0, 0
    return rows.num_rows, online.write(
        namespace(selection.view, selection.version), encode_rows(selection.view, rows)
    )


def encode_rows(view: FeatureView, rows: pa.RecordBatch | pa.Table) -> Iterator[tuple[bytes, bytes, int]]:
    names = rows.schema.names
    columns = {name: rows.column(i) for i, name in enumerate(names)}
    if EVENT_COLUMN not in columns:
        raise InvalidInput(
            f"feature view {view.name!r}: the rows have no {EVENT_COLUMN!r} column", field=EVENT_COLUMN
        )
    key_names = view.join_keys or tuple(
        n for n in names if n not in _NOT_FEATURES and n not in view.feature_names
    )
    keys, valid = KeyEncoder(key_names).encode_columns(columns)
    values = ValueCodec(view.features).encode_columns(columns, rows.num_rows)
    stamps = _epoch_ms(columns[EVENT_COLUMN])
    if valid is not None:
        keys, values, stamps = keys.filter(valid), values.filter(valid), stamps.filter(valid)
    order = _key_order(columns, key_names, valid)
    if order is not None:
        keys, values, stamps = keys.take(order), values.take(order), stamps.take(order)
    return zip(keys.to_pylist(), values.to_pylist(), stamps.to_pylist(), strict=True)


def _key_order(
    columns: dict[str, pa.Array | pa.ChunkedArray], key_names: Sequence[str], valid: pa.Array | None
) -> np.ndarray | None:
    """For a single integer key, the rows in key order: B-tree stores (SQLite) write sorted keys
    several times faster than keys in hash order, as the offline aggregation returns them.
    (Negative and non-negative ids each come out ascending, which is what locality needs.)"""
    if len(key_names) != 1:
        return None
    column = columns[key_names[0]]
    if not pa.types.is_integer(column.type):
        return None
    if valid is not None:
        column = column.filter(valid)
    return np.argsort(column.to_numpy(zero_copy_only=False), kind="stable")


def _epoch_ms(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_timestamp(array.type):
        array = array.cast(pa.timestamp("ms", tz=array.type.tz), safe=False).cast(pa.int64())
    elif not pa.types.is_integer(array.type):
        raise InvalidInput(f"{EVENT_COLUMN} must be a timestamp, got {array.type}", field=EVENT_COLUMN)
    return pc.fill_null(array.cast(pa.int64()), 0)


def _run(
    db: Database,
    offline: OfflineStore,
    online: OnlineStore,
    selection: ViewSelection,
    start: datetime,
    end: datetime,
    progress: Progress | None,
) -> MaterializationResult:
    view = selection.view
    run_id = new_id()
    started = time.perf_counter()
    rows_table = table(FeatureMaterializationRow)
    with db.write() as conn:
        conn.execute(
            rows_table.insert().values(
                id=run_id,
                view_name=view.name,
                view_version=selection.version,
                start_ms=to_ms(start),
                end_ms=to_ms(end),
                rows_read=0,
                keys_written=0,
                status=RUNNING,
                error=None,
                started_at=now_ms(),
                finished_at=None,
            )
        )
    rows_read = keys_written = 0
    if progress is not None:
        progress(view.name, 0, None)
    try:
        for batch in _batches(offline.latest_per_entity(view, start, end, batch_rows=BATCH_ROWS)):
            read, written = write_rows(online, selection, batch)
            rows_read += read
            keys_written += written
            if progress is not None:
                progress(view.name, rows_read, None)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        with db.write() as conn:
            conn.execute(
                update(rows_table)
                .where(rows_table.c.id == run_id)
                .values(
                    status=FAILED,
                    error=error[:4000],
                    rows_read=rows_read,
                    keys_written=keys_written,
                    finished_at=now_ms(),
                )
            )
        raise
    with db.write() as conn:
        conn.execute(
            update(rows_table)
            .where(rows_table.c.id == run_id)
            .values(status=SUCCEEDED, rows_read=rows_read, keys_written=keys_written, finished_at=now_ms())
        )
        _advance_watermark(conn, selection, to_ms(start), to_ms(end))
        event_log.publish(
            conn,
            FeatureMaterialized(
                view=view.name,
                version=selection.version,
                run_id=run_id,
                start_ms=to_ms(start),
                end_ms=to_ms(end),
                keys_written=keys_written,
            ),
            actor=MATERIALIZE_ACTOR,
        )
    if progress is not None:
        progress(view.name, rows_read, rows_read)
    return MaterializationResult(
        run_id,
        view.name,
        selection.version,
        start,
        end,
        rows_read,
        keys_written,
        SUCCEEDED,
        seconds=time.perf_counter() - started,
    )


def _batches(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if batch.num_rows:
            yield batch


def _watermark(conn: Connection, selection: ViewSelection) -> int | None:
    marks = table(FeatureWatermarkRow)
    row = conn.execute(
        select(marks.c.view_version, marks.c.watermark_ms).where(marks.c.view_name == selection.view.name)
    ).first()
    if row is None or row.view_version != selection.version:
        return None  # a new version has its own, empty namespace
    return int(row.watermark_ms)


def _advance_watermark(conn: Connection, selection: ViewSelection, start_ms: int, end_ms: int) -> None:
    """Move the watermark to ``end`` when the window leaves no gap behind it (it starts at or
    before the current watermark, or there is none yet) and lies beyond it, or when the view's
    version changed. One statement: the condition is checked against the newest committed
    watermark, under the row's lock, so two runs finishing at once cannot move it back."""
    marks = table(FeatureWatermarkRow)
    upsert(
        conn,
        marks,
        [
            {
                "view_name": selection.view.name,
                "view_version": selection.version,
                "watermark_ms": end_ms,
                "updated_at": now_ms(),
            }
        ],
        keys=["view_name"],
        update=["view_version", "watermark_ms", "updated_at"],
        where=lambda t, new: or_(
            t.c.view_version != new.view_version,
            and_(t.c.watermark_ms >= start_ms, t.c.watermark_ms < new.watermark_ms),
        ),
    )


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput(f"{name} must be a datetime, got {value!r}", field=name)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
