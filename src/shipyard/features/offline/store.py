"""The offline store: DuckDB over the feature views' sources, one DuckDB connection per call.

Point-in-time semantics: top of :mod:`shipyard.features.model`; the join: :mod:`.pit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.features.model import FeatureView, PushSource
from shipyard.features.offline import pit
from shipyard.features.offline.push import append_push
from shipyard.features.offline.rows import CREATED, EVENT, connect, view_error, view_rows
from shipyard.features.offline.sources import SourceReader, TimeRange, quote
from shipyard.features.selection import ResolvedFeatures
from shipyard.features.statistics import FeatureStatistics, relation_statistics

if TYPE_CHECKING:
    from shipyard.storage.artifacts.base import ArtifactStore


def _micros(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(pd.Timestamp(value).value // 1000)


def _range_filter(start: datetime | None, end: datetime | None) -> str:
    parts = []
    if start is not None:
        parts.append(f"{EVENT} >= {_micros(start)}")
    if end is not None:
        parts.append(f"{EVENT} < {_micros(end)}")
    return ("WHERE " + " AND ".join(parts)) if parts else ""


def _times(event: str, created: str | None) -> str:
    """Select list turning epoch-microsecond expressions back into UTC timestamps."""
    out = [f"CAST(make_timestamp({event}) AS TIMESTAMPTZ) AS event_ts"]
    if created is not None:
        out.append(f"CAST(make_timestamp({created}) AS TIMESTAMPTZ) AS created_ts")
    return ", ".join(out)


class OfflineStore:
    """Reads feature views offline: point-in-time joins, scans for materialization, samples,
    statistics; keeps push sources' rows as Parquet parts in the artifact store."""

    def __init__(
        self,
        *,
        artifacts: ArtifactStore,
        memory_limit: str = "4GB",
        temp_directory: Path | None = None,
        s3_endpoint_url: str | None = None,
    ) -> None:
        self.artifacts = artifacts
        self.memory_limit = memory_limit
        self.temp_directory = temp_directory
        self.s3_endpoint_url = s3_endpoint_url

    def __repr__(self) -> str:
        return f"OfflineStore(artifacts={self.artifacts!r}, memory_limit={self.memory_limit!r})"

    def _connect(self) -> tuple[duckdb.DuckDBPyConnection, SourceReader]:
        return connect(self.memory_limit, self.temp_directory), SourceReader(
            self.artifacts, self.s3_endpoint_url
        )

    def schema(self, view: FeatureView) -> pa.Schema:
        """Arrow schema of the view's rows after its transformation; InvalidInput naming the view
        when the source cannot be read or the transformation fails."""
        con, reader = self._connect()
        try:
            relation = reader.relation(con, view)
            return con.execute(f"SELECT * FROM {relation} LIMIT 0").to_arrow_table().schema
        except duckdb.Error as exc:
            raise view_error(view, exc) from None
        except (OSError, ValueError) as exc:
            raise view_error(view, exc) from None
        finally:
            con.close()

    def historical(
        self,
        entity_df: pd.DataFrame | pa.Table,
        resolved: ResolvedFeatures,
        *,
        timestamp_column: str = "event_timestamp",
        full_feature_names: bool = False,
        respect_created_timestamp: bool = True,
    ) -> pa.Table:
        """Point-in-time correct features for every entity row, in input order: the entity
        columns, then ``resolved.output_columns`` typed as declared. Column names follow
        ``resolved`` (``full_feature_names`` is decided when resolving; kept for symmetry)."""
        del full_feature_names
        con, reader = self._connect()
        try:
            return pit.historical(
                con,
                reader,
                entity_df,
                resolved,
                timestamp_column=timestamp_column,
                respect_created_timestamp=respect_created_timestamp,
            )
        finally:
            con.close()

    def latest_per_entity(
        self, view: FeatureView, start: datetime, end: datetime, batch_rows: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        """Newest row per entity key with ``start <= event_ts < end`` (ties: larger created ts):
        join keys, the view's features (declared types), ``event_ts`` (and ``created_ts``)."""
        con, reader = self._connect()
        try:
            features = list(view.feature_names)
            rows, has_created = view_rows(reader, con, view, features, time_range=TimeRange(start, end))
            keys = ", ".join(quote(k) for k in view.join_keys)
            # (event, created) packed in one HUGEINT: compares faster than a struct.
            order = (
                f"(CAST({EVENT} AS HUGEINT) << 64) + (coalesce({CREATED}, {-(2**62)}) + {2**63})"
                if has_created
                else EVENT
            )
            packed = ", ".join(
                [f"{quote(f)} := {quote(f)}" for f in features]
                + [f"{EVENT} := {EVENT}"]
                + ([f"{CREATED} := {CREATED}"] if has_created else [])
            )
            picked = ", ".join(f"__s.{quote(f)} AS {quote(f)}" for f in features)
            times = _times(f"__s.{EVENT}", f"__s.{CREATED}" if has_created else None)
            sql = (
                f"SELECT {keys}, {picked}, {times} "
                f"FROM (SELECT {keys}, arg_max(struct_pack({packed}), {order}) AS __s "
                f"FROM {rows} {_range_filter(start, end)} GROUP BY {keys})"
            )
            try:
                batches = con.execute(sql).to_arrow_reader(batch_rows)
                yield from batches
            except duckdb.Error as exc:
                raise view_error(view, exc) from None
        finally:
            con.close()

    def sample(
        self, view: FeatureView, n: int, start: datetime | None = None, end: datetime | None = None
    ) -> pa.Table:
        """Up to ``n`` random rows of the view with ``start <= event_ts < end``: join keys,
        features, ``event_ts`` (and ``created_ts``)."""
        if n < 0:
            raise InvalidInput(f"sample size must be >= 0, got {n}", field="n")
        con, reader = self._connect()
        try:
            rows, has_created = view_rows(
                reader, con, view, list(view.feature_names), time_range=TimeRange(start, end)
            )
            cols = ", ".join(
                [quote(k) for k in view.join_keys]
                + [quote(f) for f in view.feature_names]
                + [_times(EVENT, CREATED if has_created else None)]
            )
            sql = (
                f"SELECT {cols} FROM (SELECT * FROM {rows} {_range_filter(start, end)} "
                f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE (7)) ORDER BY {EVENT}"
            )
            return con.execute(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise view_error(view, exc) from None
        finally:
            con.close()

    def statistics(
        self, view: FeatureView, start: datetime | None = None, end: datetime | None = None
    ) -> list[FeatureStatistics]:
        """Statistics of each feature over the view's rows with ``start <= event_ts < end``."""
        con, reader = self._connect()
        try:
            rows, _ = view_rows(reader, con, view, list(view.feature_names), time_range=TimeRange(start, end))
            return relation_statistics(
                con, f"(SELECT * FROM {rows} {_range_filter(start, end)})", view.features
            )
        except duckdb.Error as exc:
            raise view_error(view, exc) from None
        finally:
            con.close()

    def append_push(self, source: PushSource, rows: pa.Table | pd.DataFrame) -> int:
        """Validate ``rows`` against the push schema and store them as one Parquet part under
        ``features/push/<source>/``; offline reads see them from then on."""
        return append_push(self.artifacts, source, rows)

    def source_files(self, view: FeatureView) -> list[tuple[str, str]]:
        """``(path, fingerprint)`` of every file the view reads now (for dataset lineage):
        ``etag:…`` on S3, ``size:…;mtime_ns:…`` for local files, ``size:…`` for push parts."""
        try:
            return SourceReader(self.artifacts, self.s3_endpoint_url).files(view)
        except OSError as exc:
            raise view_error(view, exc) from None
