"""A metric history cut down to what a chart can show, in the database.

A chart ``points`` wide needs at most two points per pixel column: the lowest and the highest
value (the M4 idea, Jugel et al. 2014), so peaks and dips survive. The steps are split into
``points // 2`` equal ranges; for each range the database finds the point with the lowest and the
one with the highest value by a small range scan of the covering index
``metrics (run_id, key, step, timestamp, value)`` (no table row is read), and only those rows
come back. Nothing is grouped or sorted over the whole history, which SQLite would do with a
temporary B-tree, and a 100,000-point history never becomes 100,000 Python objects.

The query is plain SQL (a recursive CTE numbering the ranges, correlated ``ORDER BY value LIMIT 1``
subqueries), so it runs unchanged on SQLite and PostgreSQL. NaN is stored as NULL and has no
place on a chart: ranges holding only NaN give no point.
"""

from __future__ import annotations

from sqlalchemy import Connection, Select, TextClause, func, literal, select, text

from shipyard.storage.metadata.base import table
from shipyard.tracking import records
from shipyard.tracking.model import Metric
from shipyard.tracking.tables import MetricRow

metrics_t = table(MetricRow)

_EXTREME = """(SELECT m.step FROM {metrics} m
    WHERE m.run_id = :run_id AND m.key = :key AND m.value IS NOT NULL
      AND m.step >= :low + r.i * :width AND m.step < :low + (r.i + 1) * :width
    ORDER BY m.value {direction}, m.step LIMIT 1)"""

_DOWNSAMPLE = """WITH RECURSIVE ranges(i) AS (
    SELECT 0 UNION ALL SELECT i + 1 FROM ranges WHERE i + 1 < :ranges
), picked(step) AS (
    SELECT {lowest} FROM ranges r UNION SELECT {highest} FROM ranges r
)
SELECT m.step, m.value, m.timestamp FROM picked p CROSS JOIN {metrics} m
WHERE m.run_id = :run_id AND m.key = :key AND m.step = p.step AND m.value IS NOT NULL
ORDER BY m.step, m.timestamp, m.value"""
# ``picked CROSS JOIN metrics`` makes SQLite look the ~1,000 picked steps up in the index rather
# than scan the whole history again (PostgreSQL plans a CROSS JOIN like any inner join).


def _statement() -> str:
    name = metrics_t.name
    return _DOWNSAMPLE.format(
        metrics=name,
        lowest=_EXTREME.format(metrics=name, direction="ASC"),
        highest=_EXTREME.format(metrics=name, direction="DESC"),
    )


_SQL = text(_statement())


def history_query(run_id: str, key: str) -> Select[int, float | None, int]:
    """The whole history in step and timestamp order (ties in value order), read from the index
    alone."""
    return (
        select(metrics_t.c.step, metrics_t.c.value, metrics_t.c.timestamp)
        .where(metrics_t.c.run_id == run_id, metrics_t.c.key == key)
        .order_by(metrics_t.c.step, metrics_t.c.timestamp, metrics_t.c.value)
    )


def bounds_query(run_id: str, key: str, points: int) -> Select[int, int | None, int | None]:
    """How many points the history holds, up to ``points + 1``, and its first and last step.

    Each bound alone is one index probe, and the count stops past ``points``: counting a whole
    history would read it once more than cutting it down does."""
    this = (metrics_t.c.run_id == run_id, metrics_t.c.key == key)
    return select(
        select(func.count())
        .select_from(select(literal(1)).where(*this).limit(points + 1).subquery())
        .scalar_subquery(),
        select(func.min(metrics_t.c.step)).where(*this).scalar_subquery(),
        select(func.max(metrics_t.c.step)).where(*this).scalar_subquery(),
    )


def downsample_query(run_id: str, key: str, low: int, high: int, points: int) -> TextClause:
    """Each of ``points // 2`` equal step ranges of ``[low, high]``: its lowest and highest point."""
    ranges = points // 2
    width = (high - low) // ranges + 1  # every step falls in one of the ranges
    return _SQL.bindparams(run_id=run_id, key=key, low=low, width=width, ranges=ranges)


def history(conn: Connection, run_id: str, key: str) -> list[Metric]:
    return [
        Metric(key, records.nan_if_null(value), step, timestamp)
        for step, value, timestamp in conn.execute(history_query(run_id, key))
    ]


def curve(conn: Connection, run_id: str, key: str, points: int) -> list[Metric]:
    """The run's ``key`` history, whole when it has at most ``points`` points, else at most
    ``points`` of them: each step range's lowest and highest value, in step order."""
    count, low, high = conn.execute(bounds_query(run_id, key, points)).one()
    if count <= points or points < 2 or low is None or high is None:
        return history(conn, run_id, key)
    seen: set[int] = set()
    kept = []
    for step, value, timestamp in conn.execute(downsample_query(run_id, key, low, high, points)):
        if step not in seen:  # several points logged at one step: the first stands for them
            seen.add(step)
            kept.append(Metric(key, value, step, timestamp))
    return kept
