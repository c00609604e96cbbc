"""The point-in-time join (semantics: top of :mod:`shipyard.features.model`).

Per view, on one DuckDB connection:

1. the view's rows in normal shape (:mod:`.rows`), limited to the event times the entity rows can
   reach (and, for PostgreSQL sources, filtered in the SQL sent there);
2. ``ASOF LEFT JOIN`` from the entity rows on the keys and ``event time <= T``: the candidate.
   With a created timestamp the ASOF order is the pair (event, created), so ties on the event
   time go to the larger created time without a separate deduplication pass;
3. TTL: the candidate counts only if ``event time >= T - ttl``;
4. created-time visibility (when the view has one and the caller respects it): the candidate is
   right iff it was created at or before ``T``. For the (usually few) rows where it was not, an
   exact query over the raw rows picks the latest row with ``event <= T``, ``created <= T`` within
   the TTL, ties by created time.

Every entity row comes back once, in input order; no qualifying row gives nulls.
Entity timestamps: tz-aware values are converted to UTC, naive ones are taken as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput
from shipyard.features.model import FeatureView, RequestSource
from shipyard.features.offline.rows import CREATED, EVENT, view_error, view_rows
from shipyard.features.offline.sources import SourceReader, TimeRange, quote
from shipyard.features.ondemand import apply_on_demand
from shipyard.features.selection import ResolvedFeatures, ViewSelection

ROW = "__row"
TIME = "__t"
_MIN_US = -(2**62)


def entity_times(entity: pa.Table, column: str) -> pa.Array:
    """The entity timestamp column as epoch microseconds (int64), naive values taken as UTC."""
    if column not in entity.column_names:
        raise InvalidInput(
            f"entity rows have no timestamp column {column!r} (columns: {', '.join(entity.column_names)})",
            field="timestamp_column",
        )
    values = entity.column(column).combine_chunks()
    kind = values.type
    try:
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            parsed = pd.to_datetime(values.to_pandas(), utc=True, format="mixed")
            values = pa.array(parsed, type=pa.timestamp("us", tz="UTC"))
        elif pa.types.is_date(kind):
            values = values.cast(pa.timestamp("us"))
        elif not pa.types.is_timestamp(kind):
            raise TypeError(f"type {kind}")
        if pa.types.is_timestamp(values.type) and values.type.tz is None:
            values = values.cast(pa.timestamp(values.type.unit, tz="UTC"))
        micros = values.cast(pa.timestamp("us", tz="UTC"), safe=False)
        return pc.cast(micros, pa.int64())
    except (TypeError, ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"entity timestamp column {column!r} must hold timestamps, got {kind} ({exc})",
            field="timestamp_column",
        ) from None


def to_arrow(entity_df: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(entity_df, pa.Table):
        return entity_df
    if isinstance(entity_df, pd.DataFrame):
        try:
            return pa.Table.from_pandas(entity_df, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"entity rows cannot be converted to Arrow: {exc}", field="entity_df"
            ) from None
    raise InvalidInput(
        f"entity rows must be a pandas DataFrame or an Arrow table, got {type(entity_df).__name__}",
        field="entity_df",
    )


def _ttl_us(ttl: timedelta | None) -> int | None:
    return None if ttl is None else ttl // timedelta(microseconds=1)


def join_view(
    con: duckdb.DuckDBPyConnection,
    reader: SourceReader,
    selection: ViewSelection,
    bounds: tuple[int, int] | None,
    respect_created: bool,
) -> pa.Table:
    """``selection``'s features for every row of the registered ``__entity`` table, in ``__row``
    order, typed as declared."""
    view = selection.view
    features = selection.features
    ttl = _ttl_us(view.ttl)
    time_range = None
    filters = []
    if bounds is not None:
        low = None if ttl is None else bounds[0] - ttl
        time_range = TimeRange(
            start=None if low is None else _datetime(low),
            end=_datetime(bounds[1]),
        )
        filters.append(f"{EVENT} <= {bounds[1]}")
        if low is not None:
            filters.append(f"{EVENT} >= {low}")
    rows, has_created = view_rows(reader, con, view, features, time_range=time_range, with_created=True)
    keys = [quote(k) for k in view.join_keys]
    feats = [quote(f) for f in features]
    where = f"WHERE {' AND '.join(filters)}" if filters else ""
    on = " AND ".join([*(f"e.{k} = f.{k}" for k in keys), f"e.{TIME} >= f.{EVENT}"])
    in_ttl = f"f.{EVENT} IS NOT NULL" + ("" if ttl is None else f" AND f.{EVENT} >= e.{TIME} - {ttl}")
    ctes = [f"fv AS NOT MATERIALIZED (SELECT * FROM {rows} {where})"]
    if has_created:
        # Ties on the event time go to the larger created time: the ASOF order is the pair
        # (event, created) packed into one HUGEINT, and the entity side asks for (T, +inf).
        order = f"(CAST({EVENT} AS HUGEINT) << 64) + (coalesce({CREATED}, {_MIN_US}) + {2**63})"
        entity_order = f"(CAST({TIME} AS HUGEINT) << 64) + {2**64 - 1}"
        on = " AND ".join([*(f"e.{k} = f.{k}" for k in keys), "e.__o >= f.__o"])
        picked = ", ".join(f"f.{f} AS {f}" for f in feats)
        late = f"({in_ttl}) AND f.{CREATED} > e.{TIME}" if respect_created else "false"
        ctes.append(
            f"__asof AS MATERIALIZED (SELECT e.{ROW}, e.{TIME}, {', '.join('e.' + k for k in keys)}, "
            f"({in_ttl}) AS __ok, {late} AS __late, {picked} "
            f"FROM (SELECT *, {entity_order} AS __o FROM __entity) e "
            f"ASOF LEFT JOIN (SELECT *, {order} AS __o FROM fv) f ON {on})"
        )
        if respect_created:
            fix_on = " AND ".join(
                [
                    *(f"l.{k} = f.{k}" for k in keys),
                    f"f.{EVENT} <= l.{TIME}",
                    f"coalesce(f.{CREATED}, {_MIN_US}) <= l.{TIME}",
                    *([] if ttl is None else [f"f.{EVENT} >= l.{TIME} - {ttl}"]),
                ]
            )
            fix_packed = ", ".join(f"{f} := f.{f}" for f in feats)
            ctes.append(
                f"fix AS (SELECT l.{ROW}, arg_max(struct_pack({fix_packed}), "
                f"(f.{EVENT}, coalesce(f.{CREATED}, {_MIN_US}))) AS __s "
                f"FROM (SELECT * FROM __asof WHERE __late) l JOIN fv f ON {fix_on} GROUP BY l.{ROW})"
            )
            columns = ", ".join(
                f"CASE WHEN a.__late THEN x.__s.{f} WHEN a.__ok THEN a.{f} END AS {f}" for f in feats
            )
            query = f"SELECT {columns} FROM __asof a LEFT JOIN fix x ON a.{ROW} = x.{ROW} ORDER BY a.{ROW}"
        else:
            columns = ", ".join(f"CASE WHEN __ok THEN {f} END AS {f}" for f in feats)
            query = f"SELECT {columns} FROM __asof ORDER BY {ROW}"
    else:
        columns = ", ".join(f"CASE WHEN {in_ttl} THEN f.{f} END AS {f}" for f in feats)
        query = f"SELECT {columns} FROM __entity e ASOF LEFT JOIN fv f ON {on} ORDER BY e.{ROW}"
    sql = f"WITH {', '.join(ctes)} {query}"
    try:
        return con.execute(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise view_error(view, exc) from None


def _datetime(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def historical(
    con: duckdb.DuckDBPyConnection,
    reader: SourceReader,
    entity_df: pd.DataFrame | pa.Table,
    resolved: ResolvedFeatures,
    *,
    timestamp_column: str = "event_timestamp",
    respect_created_timestamp: bool = True,
) -> pa.Table:
    """Point-in-time correct features for every entity row, in input order: the entity columns
    followed by ``resolved.output_columns`` (declared types)."""
    entity = to_arrow(entity_df)
    clashes = [c for c in resolved.output_columns if c in entity.column_names]
    if clashes:
        raise InvalidInput(
            f"entity rows already have a column named like the requested feature {clashes[0]!r}; rename it "
            "or ask for full feature names",
            field=clashes[0],
        )
    times = entity_times(entity, timestamp_column)
    keys_needed = {k for s in resolved.views for k in s.view.join_keys}
    missing = sorted(k for k in keys_needed if k not in entity.column_names)
    if missing:
        raise InvalidInput(f"entity rows have no join key column {missing[0]!r}", field=missing[0])
    keys_table = pa.table(
        {
            **{k: entity.column(k) for k in sorted(keys_needed)},
            ROW: pa.array(range(entity.num_rows), type=pa.int64()),
            TIME: times,
        }
    )
    con.register("__entity", keys_table)
    low, high = pc.min(times).as_py(), pc.max(times).as_py()
    bounds = None if low is None or high is None else (int(low), int(high))
    joined: dict[tuple[str, str], pa.ChunkedArray] = {}
    for selection in resolved.views:
        if not selection.features:
            continue
        table = join_view(con, reader, selection, bounds, respect_created_timestamp)
        for name in selection.features:
            joined[(selection.view.name, name)] = table.column(name)
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for selection in resolved.views:
        for name in selection.features:
            columns[resolved.column_name(selection.view.name, name)] = joined[(selection.view.name, name)]
    for od in resolved.on_demand:
        frame = _on_demand_inputs(od.view.name, od.view.sources, joined, entity)
        result = apply_on_demand(od, frame)
        for name in od.features:
            columns[resolved.column_name(od.view.name, name)] = pa.array(result[name])
    out = entity
    for name in resolved.output_columns:
        if name not in columns:
            raise InvalidInput(f"requested feature {name!r} was not resolved to any view", field=name)
        out = out.append_column(name, columns[name])
    return out


def _on_demand_inputs(
    name: str,
    sources: tuple[FeatureView | RequestSource, ...],
    joined: Mapping[tuple[str, str], pa.ChunkedArray],
    entity: pa.Table,
) -> pd.DataFrame:
    data: dict[str, pa.ChunkedArray] = {}
    for source in sources:
        if isinstance(source, FeatureView):
            for feature in source.feature_names:
                if (source.name, feature) in joined:
                    data.setdefault(feature, joined[(source.name, feature)])
        elif isinstance(source, RequestSource):
            for field in source.schema:
                if field.name not in entity.column_names:
                    raise InvalidInput(
                        f"on-demand feature view {name!r} needs the request field {field.name!r}; add it as a "
                        "column of the entity rows",
                        field=field.name,
                    )
                data.setdefault(field.name, entity.column(field.name))
    table = pa.table(data) if data else pa.table({"__empty": pa.nulls(entity.num_rows)})
    return table.to_pandas(types_mapper=pd.ArrowDtype)
