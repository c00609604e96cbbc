"""Reading the inference log back (what monitoring and the label join read): the Parquet parts of
one deployment whose hour partitions overlap a time range, filtered to the range.

Parts are listed per hour partition (``inference-log/<deployment>/<YYYY-MM-DDTHH>/``), so a window
of an hour reads one or two folders however long the log is. A ``last`` read (the last N rows
before a time) walks hours backwards until it has N rows or reaches ``max_hours``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shipyard.serving.inference_log import PREFIX, SCHEMA
from shipyard.storage.artifacts.base import ArtifactStore

HOUR_MS = 3_600_000
#: How far back a ``last`` read looks at most (31 days of hours).
MAX_HOURS = 31 * 24


def _hour(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(minute=0, second=0, microsecond=0)


def _read_hour(store: ArtifactStore, deployment: str, hour: datetime) -> list[pa.Table]:
    prefix = f"{PREFIX}/{deployment}/{hour.strftime('%Y-%m-%dT%H')}/"
    tables = []
    for key in sorted(store.list(prefix)):
        if key.endswith(".parquet"):
            with store.open(key) as f:
                tables.append(pq.read_table(f, schema=SCHEMA))
    return tables


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()


def read_range(store: ArtifactStore, deployment: str, start_ms: int, end_ms: int) -> pa.Table:
    """Rows with ``start_ms <= time < end_ms``, oldest first."""
    if end_ms <= start_ms:
        return SCHEMA.empty_table()
    tables: list[pa.Table] = []
    hour, last = _hour(max(start_ms, 0)), _hour(end_ms - 1)
    while hour <= last:
        tables.extend(_read_hour(store, deployment, hour))
        hour += timedelta(hours=1)
    table = _concat(tables)
    if table.num_rows:
        times = table.column("time")
        table = table.filter(pc.and_(pc.greater_equal(times, start_ms), pc.less(times, end_ms)))
    return table.sort_by([("time", "ascending"), ("request_id", "ascending"), ("row", "ascending")])


def read_last(
    store: ArtifactStore, deployment: str, end_ms: int, rows: int, *, max_hours: int = MAX_HOURS
) -> pa.Table:
    """The last ``rows`` rows before ``end_ms``, oldest first."""
    tables: list[pa.Table] = []
    count = 0
    hour = _hour(end_ms - 1)
    for _ in range(max_hours):
        found = [t.filter(pc.less(t.column("time"), end_ms)) for t in _read_hour(store, deployment, hour)]
        tables.extend(found)
        count += sum(t.num_rows for t in found)
        if count >= rows:
            break
        hour -= timedelta(hours=1)
    table = _concat(tables).sort_by(
        [("time", "ascending"), ("request_id", "ascending"), ("row", "ascending")]
    )
    return table.slice(max(0, table.num_rows - rows))
