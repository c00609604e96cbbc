"""PostgreSQL tables and queries as feature sources (read through SQLAlchemy into Arrow, the time
range pushed into the SQL), on a real server from ``SHIPYARD_TEST_POSTGRES_URL``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text

from shipyard.errors import InvalidInput
from shipyard.features.model import Entity, FeatureView, SqlSource
from shipyard.features.offline import OfflineStore
from shipyard.features.selection import ResolvedFeatures, ViewSelection
from shipyard.storage.artifacts.memory import MemoryArtifactStore
from support.databases import fresh_postgres_database

T0 = datetime(2024, 5, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PAIR = Entity("pair", {"customer_id": "int64", "merchant": "string"})


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE txn_stats (customer_id bigint, merchant text, ts timestamptz, "
                    "created timestamp, amount double precision, n integer, flagged boolean)"
                )
            )
            conn.execute(
                text("INSERT INTO txn_stats VALUES (:c, :m, :ts, :cr, :a, :n, :f)"),
                [
                    {
                        "c": 1,
                        "m": "shop",
                        "ts": T0,
                        "cr": T0.replace(tzinfo=None),
                        "a": 1.5,
                        "n": 1,
                        "f": False,
                    },
                    {
                        "c": 1,
                        "m": "shop",
                        "ts": T0 + DAY,
                        "cr": (T0 + 5 * DAY).replace(tzinfo=None),
                        "a": 2.5,
                        "n": 2,
                        "f": True,
                    },
                    {
                        "c": 1,
                        "m": "cafe",
                        "ts": T0,
                        "cr": T0.replace(tzinfo=None),
                        "a": 9.0,
                        "n": 3,
                        "f": None,
                    },
                    {
                        "c": 2,
                        "m": "shop",
                        "ts": T0 + 2 * DAY,
                        "cr": (T0 + 2 * DAY).replace(tzinfo=None),
                        "a": 4.0,
                        "n": 4,
                        "f": False,
                    },
                ],
            )
        engine.dispose()
        yield url


def _view(source: SqlSource) -> FeatureView:
    return FeatureView(
        "txn_stats",
        entities=[PAIR],
        features={"amount": "float64", "n": "int64", "flagged": "bool"},
        source=source,
        timestamp_field="ts",
        created_timestamp_field="created",
    )


def _resolved(view: FeatureView) -> ResolvedFeatures:
    return ResolvedFeatures(
        views=(ViewSelection(view, 1, ("amount", "n", "flagged")),),
        on_demand=(),
        output_columns=("amount", "n", "flagged"),
        entity_columns=("customer_id", "merchant"),
        request_columns=(),
    )


ENTITIES = pd.DataFrame(
    {
        "customer_id": [1, 1, 1, 2, 3],
        "merchant": ["shop", "shop", "cafe", "shop", "shop"],
        "event_timestamp": [T0 + 2 * DAY, T0 + 6 * DAY, T0 + DAY, T0 + DAY, T0],
    }
)


def test_postgres_table_composite_keys_and_late_rows(postgres_url: str) -> None:
    store = OfflineStore(artifacts=MemoryArtifactStore())
    view = _view(SqlSource("pg", postgres_url, table="txn_stats"))
    out = store.historical(ENTITIES, _resolved(view))
    # Row 0: the T0+1d row was created at T0+5d, after T=T0+2d: the T0 row is served.
    assert out.column("amount").to_pylist() == [1.5, 2.5, 9.0, None, None]
    assert out.column("flagged").to_pylist() == [False, True, None, None, None]
    assert out.schema.field("n").type == pa.int64()
    relaxed = store.historical(ENTITIES, _resolved(view), respect_created_timestamp=False)
    assert relaxed.column("amount").to_pylist()[0] == 2.5


def test_postgres_query_and_latest_per_entity(postgres_url: str) -> None:
    store = OfflineStore(artifacts=MemoryArtifactStore())
    view = _view(SqlSource("pg", postgres_url, query="SELECT * FROM txn_stats WHERE merchant = 'shop'"))
    latest = pa.Table.from_batches(list(store.latest_per_entity(view, T0, T0 + 2 * DAY)))
    rows = sorted((r["customer_id"], r["merchant"], r["amount"]) for r in latest.to_pylist())
    assert rows == [(1, "shop", 2.5)], "end is exclusive and the query filters cafe out"
    assert store.schema(view).names[:3] == ["customer_id", "merchant", "ts"]
    # A window with no row: the pushed-down filter selects nothing, column types are kept.
    empty = list(store.latest_per_entity(view, T0 + 30 * DAY, T0 + 31 * DAY))
    assert sum(b.num_rows for b in empty) == 0


def test_postgres_errors_name_the_view(postgres_url: str) -> None:
    store = OfflineStore(artifacts=MemoryArtifactStore())
    view = _view(SqlSource("pg", postgres_url, table="no_such_table"))
    with pytest.raises(InvalidInput, match=r"feature view 'txn_stats'.*source 'pg'"):
        store.historical(ENTITIES, _resolved(view))
