"""Rows sent to a push source: typing JSON-like rows by the source's schema, finding the views
that read the source, and shaping rows for the online store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from shipyard.errors import InvalidInput, NotFound
from shipyard.features import catalog
from shipyard.features.materialize import EVENT_COLUMN
from shipyard.features.model import FeatureView, PushSource
from shipyard.features.selection import ViewSelection
from shipyard.features.specs import from_spec
from shipyard.features.types import ValueType


def push_views(conn: Connection, name: str) -> tuple[PushSource, list[ViewSelection]]:
    """The push source ``name`` and every registered view (latest version) that reads it."""
    found: list[ViewSelection] = []
    source: PushSource | None = None
    for summary in catalog.list_definitions(conn, kind="feature_view"):
        stored = catalog.get_version(conn, ("feature_view",), summary.name)
        if stored.spec["source"]["type"] == "push" and stored.spec["source"]["name"] == name:
            view = from_spec(stored.spec)
            assert isinstance(view, FeatureView) and isinstance(view.source, PushSource)
            source = view.source
            found.append(ViewSelection(view, stored.version, view.feature_names))
    if source is None:
        raise NotFound(f"no registered feature view reads a push source named {name!r}", field="source")
    return source, found


def online_rows(view: FeatureView, rows: pa.Table) -> pa.Table:
    """Pushed rows as materialization writes them: join keys, features, ``event_ts``."""
    return rows.select([*view.join_keys, *view.feature_names]).append_column(
        EVENT_COLUMN, rows.column(view.timestamp_field)
    )


def records_table(source: PushSource, records: Sequence[Mapping[str, object]]) -> pa.Table:
    """Rows typed by a push source's schema; a missing field or a value of the wrong type is an
    InvalidInput naming the field."""
    if not records:
        raise InvalidInput(f"push to {source.name!r} has no rows", field="rows")
    columns: dict[str, pa.Array] = {}
    for f in source.schema:
        values = [r.get(f.name) for r in records]
        if all(v is None for v in values) and any(f.name not in r for r in records):
            raise InvalidInput(f"push rows for {source.name!r} lack the field {f.name!r}", field=f.name)
        try:
            if f.dtype is ValueType.TIMESTAMP:
                stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
                columns[f.name] = pa.array(stamps, pa.timestamp("us", tz="UTC"))
            else:
                columns[f.name] = pa.array(values, f.dtype.arrow())
        except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"push rows for {source.name!r}: field {f.name!r} must hold {f.dtype.value} values: {exc}",
                field=f.name,
            ) from None
    return pa.table(columns)
