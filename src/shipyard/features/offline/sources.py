"""Reading a feature view's rows into DuckDB: files (local or ``s3://`` through fsspec), SQL
tables (a DuckDB file attached read-only; PostgreSQL queried through SQLAlchemy into Arrow, since
DuckDB's postgres extension cannot be downloaded at run time), push sources (Parquet parts in the
artifact store), then the view's optional SQL transformation over a relation named ``source``.

:meth:`SourceReader.relation` returns SQL text naming the view's transformed rows; anything it
needs (an attached file, an Arrow table) is registered on the given connection first.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.errors import InvalidInput
from shipyard.features.model import FeatureView, FileSource, PushSource, SqlSource
from shipyard.storage.artifacts.local import LocalArtifactStore

if TYPE_CHECKING:
    import duckdb
    from fsspec import AbstractFileSystem

    from shipyard.storage.artifacts.base import ArtifactStore

PUSH_PREFIX = "features/push"
_WITH = re.compile(r"^\s*with(\s+recursive)?\s+", re.IGNORECASE)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def push_prefix(source: str) -> str:
    return f"{PUSH_PREFIX}/{source}/"


@dataclass(frozen=True)
class TimeRange:
    """Event times a reader needs (inclusive bounds; None = open), pushed down where that is
    safe: into PostgreSQL's WHERE clause for a view without transformation."""

    start: datetime | None = None
    end: datetime | None = None


class SourceReader:
    """Makes a view's rows queryable on one DuckDB connection."""

    def __init__(self, artifacts: ArtifactStore, s3_endpoint_url: str | None = None) -> None:
        self.artifacts = artifacts
        self.s3_endpoint_url = s3_endpoint_url
        self._counter = 0
        self._s3_registered: list[tuple[duckdb.DuckDBPyConnection, AbstractFileSystem]] = []

    def _alias(self, prefix: str) -> str:
        self._counter += 1
        return f"__{prefix}_{self._counter}"

    # -- raw source ------------------------------------------------------------------------------

    def raw(
        self, con: duckdb.DuckDBPyConnection, view: FeatureView, time_range: TimeRange | None = None
    ) -> str:
        """SQL text (a table expression) of the source's untransformed rows."""
        source = view.source
        if isinstance(source, FileSource):
            return self._file(con, source)
        if isinstance(source, SqlSource):
            return self._sql(con, view, source, None if view.transformation else time_range)
        return self._push(con, source)

    def _file(self, con: duckdb.DuckDBPyConnection, source: FileSource) -> str:
        path = source.path
        if path.startswith("s3://"):
            fs = self.register_s3(con)
            is_dir = not glob.has_magic(path) and fs.isdir(path)
        else:
            path = os.path.expanduser(path)
            is_dir = os.path.isdir(path)
        if is_dir:
            path = path.rstrip("/") + ("/**/*.parquet" if source.format == "parquet" else "/**/*.csv")
        if source.format == "parquet":
            return f"read_parquet({literal(path)}, hive_partitioning = true, union_by_name = true)"
        return f"read_csv({literal(path)}, hive_partitioning = true, union_by_name = true, header = true)"

    def register_s3(self, con: duckdb.DuckDBPyConnection) -> AbstractFileSystem:
        """Let DuckDB read ``s3://`` paths through s3fs (no DuckDB extension download)."""
        for registered, fs in self._s3_registered:
            if registered is con:
                return fs
        try:
            import s3fs
        except ImportError:
            raise InvalidInput(
                "reading s3:// sources needs s3fs: pip install 'shipyard[s3]'", field="path"
            ) from None
        fs = s3fs.S3FileSystem(
            endpoint_url=self.s3_endpoint_url, use_listings_cache=False, skip_instance_cache=True
        )
        con.register_filesystem(fs)
        self._s3_registered.append((con, fs))
        return fs

    def _sql(
        self,
        con: duckdb.DuckDBPyConnection,
        view: FeatureView,
        source: SqlSource,
        time_range: TimeRange | None,
    ) -> str:
        if source.url.startswith("duckdb:///"):
            path = source.url.removeprefix("duckdb:///")
            path = "/" + path.lstrip("/") if source.url.startswith("duckdb:////") else path
            if source.table is not None:
                alias = self._alias("db")
                con.execute(f"ATTACH {literal(path)} AS {alias} (READ_ONLY)")
                parts = source.table.split(".")
                return ".".join([alias, *(quote(p) for p in parts)])
            import duckdb

            # A query names the attached file's tables unqualified: run it on its own connection.
            with duckdb.connect(path, read_only=True) as other:
                table = other.sql(source.query or "").to_arrow_table()
            return self._register(con, table)
        return self._register(con, postgres_table(view, source, time_range))

    def _register(self, con: duckdb.DuckDBPyConnection, table: pa.Table) -> str:
        alias = self._alias("arrow")
        con.register(alias, table)
        return alias

    def _push(self, con: duckdb.DuckDBPyConnection, source: PushSource) -> str:
        keys = sorted(k for k in self.artifacts.list(push_prefix(source.name)) if k.endswith(".parquet"))
        if not keys:
            return self._register(con, empty_push_table(source))
        if isinstance(self.artifacts, LocalArtifactStore):
            paths = ", ".join(literal(str(self.artifacts.root / k)) for k in keys)
            return f"read_parquet([{paths}], union_by_name = true)"
        tables = []
        for key in keys:
            with self.artifacts.open(key) as stream:
                tables.append(pq.read_table(stream))
        return self._register(con, pa.concat_tables(tables, promote_options="default"))

    # -- transformed rows ------------------------------------------------------------------------

    def relation(
        self, con: duckdb.DuckDBPyConnection, view: FeatureView, time_range: TimeRange | None = None
    ) -> str:
        """SQL text (a parenthesised query) of the view's rows after its transformation."""
        raw = self.raw(con, view, time_range)
        if not view.transformation:
            return f"(SELECT * FROM {raw})"
        body = view.transformation.rstrip().rstrip(";")
        head = f"source AS (SELECT * FROM {raw})"
        match = _WITH.match(body)
        if match:
            recursive = "RECURSIVE " if match.group(1) else ""
            return f"(WITH {recursive}{head}, {body[match.end() :]})"
        return f"(WITH {head} {body})"

    def files(self, view: FeatureView) -> list[tuple[str, str]]:
        """``(path, digest or etag or size:mtime)`` of every file the view reads, for lineage."""
        source = view.source
        if isinstance(source, PushSource):
            keys = sorted(k for k in self.artifacts.list(push_prefix(source.name)) if k.endswith(".parquet"))
            return [(f"{self.artifacts.uri}/{k}", f"size:{self.artifacts.size(k)}") for k in keys]
        if isinstance(source, SqlSource):
            if source.url.startswith("duckdb:///"):
                path = Path(source.url.removeprefix("duckdb:///"))
                return [(str(path), _stat(path))] if path.exists() else []
            return []
        return file_listing(source, self.s3_endpoint_url)


def _stat(path: Path) -> str:
    st = path.stat()
    return f"size:{st.st_size};mtime_ns:{st.st_mtime_ns}"


def file_listing(source: FileSource, s3_endpoint_url: str | None) -> list[tuple[str, str]]:
    suffix = ".parquet" if source.format == "parquet" else ".csv"
    if source.path.startswith("s3://"):
        import s3fs

        fs = s3fs.S3FileSystem(
            endpoint_url=s3_endpoint_url, use_listings_cache=False, skip_instance_cache=True
        )
        path = source.path
        if glob.has_magic(path):
            names = fs.glob(path)
        elif fs.isdir(path):
            names = [n for n in fs.find(path) if n.endswith(suffix)]
        else:
            names = [path]
        out = []
        for name in sorted(names):
            info = fs.info(name)
            etag = str(info.get("ETag", "")).strip('"')
            out.append((name if name.startswith("s3://") else f"s3://{name}", f"etag:{etag}"))
        return out
    path = os.path.expanduser(source.path)
    if os.path.isdir(path):
        names = [str(p) for p in Path(path).rglob(f"*{suffix}")]
    elif glob.has_magic(path):
        names = glob.glob(path, recursive=True)
    else:
        names = [path] if os.path.exists(path) else []
    return [(os.path.abspath(n), _stat(Path(n))) for n in sorted(names)]


def empty_push_table(source: PushSource) -> pa.Table:
    return pa.schema([pa.field(f.name, f.dtype.arrow()) for f in source.schema]).empty_table()


def postgres_table(view: FeatureView, source: SqlSource, time_range: TimeRange | None) -> pa.Table:
    """The rows of a PostgreSQL table or query as Arrow, filtered on the event time when given."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    url = source.url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    base = (
        ".".join('"' + p.replace('"', '""') + '"' for p in source.table.split("."))
        if source.table is not None
        else f"({source.query}) AS q"
    )
    sql = f"SELECT * FROM {base}"
    params: dict[str, object] = {}
    if time_range is not None and (time_range.start is not None or time_range.end is not None):
        conditions = []
        column = quote(view.timestamp_field)
        if time_range.start is not None:
            conditions.append(f"{column} >= :start")
            params["start"] = time_range.start
        if time_range.end is not None:
            conditions.append(f"{column} <= :end")
            params["end"] = time_range.end
        sql = f"SELECT * FROM {base} WHERE " + " AND ".join(conditions)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # Naive timestamp columns compare with the UTC bounds as UTC wall-clock times.
            conn.execute(text("SET TIME ZONE 'UTC'"))
            result = conn.execute(text(sql), params)
            columns = list(result.keys())
            oids: list[object] = (
                [d[1] for d in (result.cursor.description or [])] if result.cursor is not None else []
            )
            rows = result.fetchall()
    except SQLAlchemyError as exc:
        raise InvalidInput(
            f"feature view {view.name!r}: cannot read source {source.name!r}: {str(exc).splitlines()[0]}",
            field="source",
        ) from None
    finally:
        engine.dispose()
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = {}
    for i, name in enumerate(columns):
        oid = oids[i] if i < len(oids) else None
        kind = _PG_TYPES.get(oid) if isinstance(oid, int) else None
        try:
            arrays[name] = pa.array(values[i], type=kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            arrays[name] = pa.array(values[i])
    return pa.table(arrays)


# PostgreSQL type OIDs -> Arrow, so columns keep their type even when a range selects no row.
_PG_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    17: pa.binary(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
