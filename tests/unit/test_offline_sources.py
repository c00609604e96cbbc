"""The offline store over every local kind of source: Parquet and CSV files, globs, hive-partitioned
folders, DuckDB files, push sources; transformations, on-demand views, scans for
materialization, samples, lineage, and the errors a user gets for bad input."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.errors import InvalidInput
from shipyard.features.model import (
    Entity,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    PushSource,
    RequestSource,
    SqlSource,
)
from shipyard.features.offline import OfflineStore
from shipyard.features.selection import OnDemandSelection, ResolvedFeatures, ViewSelection
from shipyard.storage.artifacts.local import LocalArtifactStore
from shipyard.storage.artifacts.memory import MemoryArtifactStore

DAY = timedelta(days=1)
T0 = datetime(2024, 5, 1, tzinfo=UTC)
CUSTOMER = Entity("customer", {"customer_id": "int64"})


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3],
            "event_timestamp": [T0, T0 + DAY, T0, T0 + 2 * DAY, T0 + 3 * DAY],
            "spend": [10.0, 11.0, 20.0, 21.0, 30.0],
            "visits": [1, 2, 3, 4, 5],
            "segment": ["a", "b", "c", "d", "e"],
        }
    )


def _view(source: FileSource | SqlSource | PushSource, **kwargs: object) -> FeatureView:
    options: dict[str, object] = {
        "entities": [CUSTOMER],
        "features": {"spend": "float64", "visits": "int32", "segment": "string"},
        "source": source,
    }
    options.update(kwargs)
    return FeatureView("customer_stats", **options)  # type: ignore[arg-type,unused-ignore]


def _resolved(
    view: FeatureView, features: Sequence[str] = ("spend", "visits", "segment")
) -> ResolvedFeatures:
    return ResolvedFeatures(
        views=(ViewSelection(view, 1, tuple(features)),),
        on_demand=(),
        output_columns=tuple(features),
        entity_columns=view.join_keys,
        request_columns=(),
    )


def _entities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [2, 1, 9, 1],
            "event_timestamp": [T0 + DAY, T0 + 5 * DAY, T0 + DAY, T0 - DAY],
        }
    )


EXPECTED_SPEND = [20.0, 11.0, None, None]


@pytest.fixture
def store(tmp_path: Path) -> OfflineStore:
    return OfflineStore(
        artifacts=LocalArtifactStore(tmp_path / "artifacts"), temp_directory=tmp_path / "spill"
    )


def test_parquet_file(tmp_path: Path, store: OfflineStore) -> None:
    _rows().to_parquet(tmp_path / "f.parquet")
    view = _view(FileSource("src", str(tmp_path / "f.parquet")))
    out = store.historical(_entities(), _resolved(view))
    assert out.column_names == ["customer_id", "event_timestamp", "spend", "visits", "segment"]
    assert out.column("spend").to_pylist() == EXPECTED_SPEND
    assert out.column("segment").to_pylist() == ["c", "b", None, None]
    # Declared types, not the source's (visits is int64 in the file, declared int32).
    assert out.schema.field("visits").type == pa.int32()
    assert out.column("customer_id").to_pylist() == [2, 1, 9, 1]


def test_csv_file_and_glob_and_hive_folder(tmp_path: Path, store: OfflineStore) -> None:
    frame = _rows()
    frame.to_csv(tmp_path / "f.csv", index=False)
    csv_out = store.historical(
        _entities(), _resolved(_view(FileSource("src", str(tmp_path / "f.csv"), "csv")))
    )
    assert csv_out.column("spend").to_pylist() == EXPECTED_SPEND

    (tmp_path / "parts").mkdir()
    frame.iloc[:2].to_parquet(tmp_path / "parts" / "a.parquet")
    frame.iloc[2:].to_parquet(tmp_path / "parts" / "b.parquet")
    glob_view = _view(FileSource("src", str(tmp_path / "parts" / "*.parquet")))
    assert store.historical(_entities(), _resolved(glob_view)).column("spend").to_pylist() == EXPECTED_SPEND

    hive = tmp_path / "hive"
    for day, part in frame.groupby(frame["event_timestamp"].dt.strftime("%Y-%m-%d")):
        folder = hive / f"day={day}"
        folder.mkdir(parents=True)
        part.to_parquet(folder / "part-0.parquet")
    hive_view = _view(FileSource("src", str(hive)))
    assert store.historical(_entities(), _resolved(hive_view)).column("spend").to_pylist() == EXPECTED_SPEND
    files = store.source_files(hive_view)
    assert len(files) == 4 and all(p.endswith(".parquet") and fp.startswith("size:") for p, fp in files)


def test_duckdb_file_table_and_query(tmp_path: Path, store: OfflineStore) -> None:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        frame = _rows()
        con.register("frame", frame)
        con.execute("CREATE TABLE stats AS SELECT * FROM frame")
    table_view = _view(SqlSource("src", f"duckdb:///{path}", table="stats"))
    assert store.historical(_entities(), _resolved(table_view)).column("spend").to_pylist() == EXPECTED_SPEND
    query_view = _view(
        SqlSource("src", f"duckdb:///{path}", query="SELECT * FROM stats WHERE customer_id <> 2")
    )
    assert store.historical(_entities(), _resolved(query_view)).column("spend").to_pylist() == [
        None,
        11.0,
        None,
        None,
    ]
    assert store.source_files(table_view)[0][0] == str(path)


def test_transformation_runs_over_source(tmp_path: Path, store: OfflineStore) -> None:
    _rows().rename(columns={"spend": "cents"}).to_parquet(tmp_path / "f.parquet")
    plain = _view(
        FileSource("src", str(tmp_path / "f.parquet")),
        transformation="SELECT *, cents * 1.0 AS spend FROM source",
    )
    assert store.historical(_entities(), _resolved(plain)).column("spend").to_pylist() == EXPECTED_SPEND
    with_cte = _view(
        FileSource("src", str(tmp_path / "f.parquet")),
        transformation="WITH t AS (SELECT *, cents * 2.0 AS spend FROM source) SELECT * FROM t;",
    )
    assert store.historical(_entities(), _resolved(with_cte)).column("spend").to_pylist() == [
        40.0,
        22.0,
        None,
        None,
    ]
    assert "spend" in store.schema(with_cte).names


def test_push_source_rows_are_read_offline(tmp_path: Path) -> None:
    for artifacts in (LocalArtifactStore(tmp_path / "a"), MemoryArtifactStore()):
        store = OfflineStore(artifacts=artifacts)
        source = PushSource(
            "clicks",
            {
                "customer_id": "int64",
                "event_timestamp": "timestamp",
                "spend": "float64",
                "visits": "int32",
                "segment": "string",
            },
        )
        view = _view(source)
        empty = store.historical(_entities(), _resolved(view))
        assert empty.column("spend").to_pylist() == [None] * 4
        frame = _rows()
        assert store.append_push(source, frame.iloc[:3]) == 3
        assert store.append_push(source, pa.Table.from_pandas(frame.iloc[3:], preserve_index=False)) == 2
        assert store.historical(_entities(), _resolved(view)).column("spend").to_pylist() == EXPECTED_SPEND
        assert len(store.source_files(view)) == 2
        with pytest.raises(InvalidInput, match="unknown column 'oops'"):
            store.append_push(source, frame.assign(oops=1))
        with pytest.raises(InvalidInput, match="column 'spend' must be float64"):
            store.append_push(source, frame.assign(spend="x"))
        with pytest.raises(InvalidInput, match="missing column 'segment'"):
            store.append_push(source, frame.drop(columns=["segment"]))


def test_on_demand_view_uses_request_fields(tmp_path: Path, store: OfflineStore) -> None:
    _rows().to_parquet(tmp_path / "f.parquet")
    view = _view(FileSource("src", str(tmp_path / "f.parquet")))
    request = RequestSource("txn", {"amount": "float64"})

    def ratio(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"amount_over_spend": frame["amount"] / frame["spend"]})

    odfv = OnDemandFeatureView(
        "ratios", sources=[view, request], features={"amount_over_spend": "float64"}, function=ratio
    )
    resolved = ResolvedFeatures(
        views=(ViewSelection(view, 1, ("spend", "visits", "segment")),),
        on_demand=(OnDemandSelection(odfv, 1, ("amount_over_spend",)),),
        output_columns=("amount_over_spend",),
        entity_columns=("customer_id",),
        request_columns=("amount",),
    )
    entities = _entities().assign(amount=[40.0, 22.0, 1.0, 1.0])
    out = store.historical(entities, resolved)
    assert out.column_names == ["customer_id", "event_timestamp", "amount", "amount_over_spend"]
    assert out.column("amount_over_spend").to_pylist() == [2.0, 2.0, None, None]
    with pytest.raises(InvalidInput, match="request field 'amount'"):
        store.historical(_entities(), resolved)


def test_timezones_naive_is_utc(tmp_path: Path, store: OfflineStore) -> None:
    _rows().to_parquet(tmp_path / "f.parquet")
    view = _view(FileSource("src", str(tmp_path / "f.parquet")))
    aware = _entities()
    naive = aware.assign(event_timestamp=aware["event_timestamp"].dt.tz_localize(None))
    tokyo = aware.assign(event_timestamp=aware["event_timestamp"].dt.tz_convert("Asia/Tokyo"))
    results = [
        store.historical(f, _resolved(view)).column("spend").to_pylist() for f in (aware, naive, tokyo)
    ]
    assert results == [EXPECTED_SPEND] * 3


def test_bad_input_gets_clear_errors(tmp_path: Path, store: OfflineStore) -> None:
    _rows().to_parquet(tmp_path / "f.parquet")
    view = _view(FileSource("src", str(tmp_path / "f.parquet")))
    with pytest.raises(InvalidInput, match="no timestamp column 'ts'"):
        store.historical(_entities(), _resolved(view), timestamp_column="ts")
    with pytest.raises(InvalidInput, match="no join key column 'customer_id'"):
        store.historical(_entities().rename(columns={"customer_id": "id"}), _resolved(view))
    with pytest.raises(InvalidInput, match=r"'customer_stats'.*no column 'missing'"):
        store.historical(_entities(), _resolved(_view(view.source, timestamp_field="missing")))
    missing_file = _view(FileSource("src", str(tmp_path / "nope.parquet")))
    with pytest.raises(InvalidInput, match=r"feature view 'customer_stats'"):
        store.schema(missing_file)
    broken = _view(view.source, transformation="SELECT no_such_column FROM source")
    with pytest.raises(InvalidInput, match=r"feature view 'customer_stats'"):
        store.schema(broken)
    with pytest.raises(InvalidInput, match="named like the requested feature 'spend'"):
        store.historical(_entities().assign(spend=1.0), _resolved(view))


def test_empty_entity_rows(tmp_path: Path, store: OfflineStore) -> None:
    _rows().to_parquet(tmp_path / "f.parquet")
    view = _view(FileSource("src", str(tmp_path / "f.parquet")))
    out = store.historical(_entities().iloc[:0], _resolved(view))
    assert out.num_rows == 0 and out.column_names[-3:] == ["spend", "visits", "segment"]


def test_latest_per_entity_and_sample(tmp_path: Path, store: OfflineStore) -> None:
    frame = _rows()
    frame["created"] = frame["event_timestamp"]
    # A correction of customer 2's last row: same event time, created later -> it wins.
    fix = frame.iloc[[3]].assign(spend=99.0, created=T0 + 10 * DAY)
    pd.concat([frame, fix]).to_parquet(tmp_path / "f.parquet")
    view = _view(FileSource("src", str(tmp_path / "f.parquet")), created_timestamp_field="created")
    batches = list(store.latest_per_entity(view, T0, T0 + 3 * DAY, batch_rows=1))
    latest = pa.Table.from_batches(batches).sort_by("customer_id").to_pylist()
    assert [(r["customer_id"], r["spend"], r["event_ts"]) for r in latest] == [
        (1, 11.0, T0 + DAY),
        (2, 99.0, T0 + 2 * DAY),
    ], "end is exclusive: customer 3 (at T0 + 3 days) is not in"
    assert latest[1]["created_ts"] == T0 + 10 * DAY
    assert len(batches) == 2
    sample = store.sample(view, 3)
    assert sample.num_rows == 3 and set(sample.column_names) >= {"customer_id", "spend", "event_ts"}
    window = store.sample(view, 10, T0 + DAY, T0 + 2 * DAY)
    assert window.column("event_ts").to_pylist() == [T0 + DAY]


def test_source_files_change_with_the_file(tmp_path: Path, store: OfflineStore) -> None:
    path = tmp_path / "f.parquet"
    _rows().to_parquet(path)
    view = _view(FileSource("src", str(path)))
    before = store.source_files(view)
    _rows().iloc[:2].to_parquet(path)
    os.utime(path, ns=(1, 1))
    after = store.source_files(view)
    assert [p for p, _ in before] == [str(path)] and before != after
