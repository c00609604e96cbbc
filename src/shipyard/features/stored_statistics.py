"""Feature statistics kept per materialization or computed on demand: the newest set of a view is
the reference monitoring compares live traffic with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from shipyard.core.ids import new_id
from shipyard.features.tables import FeatureStatisticsRow, FeatureWatermarkRow
from shipyard.storage.metadata.base import table

stats_t = table(FeatureStatisticsRow)
watermarks_t = table(FeatureWatermarkRow)


@dataclass(frozen=True)
class StoredStatistics:
    id: str
    view_name: str
    view_version: int
    computed_at: int
    materialization_id: str | None
    start_ms: int | None
    end_ms: int | None
    #: One ``FeatureStatistics.to_dict()`` per feature.
    stats: tuple[Mapping[str, Any], ...]


def record(
    conn: Connection,
    *,
    view_name: str,
    view_version: int,
    stats: Sequence[Mapping[str, Any]],
    now: int,
    materialization_id: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> str:
    stats_id = new_id()
    conn.execute(
        stats_t.insert().values(
            id=stats_id,
            view_name=view_name,
            view_version=view_version,
            computed_at=now,
            materialization_id=materialization_id,
            start_ms=start_ms,
            end_ms=end_ms,
            stats=[dict(s) for s in stats],
        )
    )
    return stats_id


def latest(conn: Connection, view_name: str) -> StoredStatistics | None:
    row = conn.execute(
        select(stats_t)
        .where(stats_t.c.view_name == view_name)
        .order_by(stats_t.c.computed_at.desc(), stats_t.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return StoredStatistics(
        id=row.id,
        view_name=row.view_name,
        view_version=row.view_version,
        computed_at=row.computed_at,
        materialization_id=row.materialization_id,
        start_ms=row.start_ms,
        end_ms=row.end_ms,
        stats=tuple(row.stats),
    )


def watermark(conn: Connection, view_name: str) -> tuple[int, int] | None:
    """``(view version, watermark ms)`` of a view's incremental materialization, if any."""
    row = conn.execute(select(watermarks_t).where(watermarks_t.c.view_name == view_name)).first()
    return None if row is None else (row.view_version, row.watermark_ms)
