"""Online reads: keys, value records, TTL, unknown entities, on-demand views (in memory)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.errors import InvalidInput
from shipyard.features.materialize import write_rows
from shipyard.features.model import Entity, FeatureView, Field, FileSource, OnDemandFeatureView, RequestSource
from shipyard.features.online import (
    EXPIRED,
    NOT_FOUND,
    PRESENT,
    KeyEncoder,
    OnlineReader,
    ValueCodec,
    namespace,
)
from shipyard.features.selection import OnDemandSelection, ResolvedFeatures, ViewSelection
from shipyard.storage.kv.memory import MemoryOnlineStore

NOW = datetime(2026, 1, 10, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)

customer = Entity("customer", {"customer_id": "int64"})
pair = Entity("pair", {"merchant": "string", "bank": "int64"})

stats = FeatureView(
    "customer_stats",
    entities=[customer],
    features={"spend": "float64", "visits": "int32", "tier": "string", "vip": "bool", "seen": "timestamp"},
    source=FileSource("stats_src", "unused.parquet"),
    ttl=timedelta(days=1),
)
pairs = FeatureView(
    "pair_stats",
    entities=[pair],
    features={"fraud_rate": "float32"},
    source=FileSource("pairs_src", "unused.parquet"),
)
amount = RequestSource("txn", {"amount": "float64"})


def spend_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"ratio": frame["amount"] / frame["spend"]})


ratio = OnDemandFeatureView(
    "ratio_view", sources=[stats, amount], features={"ratio": "float64"}, function=spend_ratio
)


def resolved(
    *selections: ViewSelection, on_demand: tuple[OnDemandSelection, ...] = (), full: bool = False
) -> ResolvedFeatures:
    def col(view: str, feature: str) -> str:
        return f"{view}__{feature}" if full else feature

    outputs = [col(s.view.name, f) for s in selections for f in s.features]
    outputs += [col(o.view.name, f) for o in on_demand for f in o.features]
    keys = sorted({k for s in selections for k in s.view.join_keys})
    request = tuple(
        f.name for o in on_demand for s in o.view.sources if isinstance(s, RequestSource) for f in s.schema
    )
    return ResolvedFeatures(
        tuple(selections), on_demand, tuple(outputs), tuple(keys), request, full_feature_names=full
    )


def stats_rows() -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array([1, 2, 3], pa.int64()),
            "spend": [10.5, None, 30.0],
            "visits": pa.array([1, 2, None], pa.int32()),
            "tier": ["gold", "ßilver", None],
            "vip": [True, False, None],
            "seen": pa.array([NOW - timedelta(days=3), None, NOW], pa.timestamp("us", tz="UTC")),
            "event_ts": pa.array(
                [NOW - timedelta(hours=1), NOW - timedelta(days=1), NOW - timedelta(days=2)],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )


@pytest.fixture
def store() -> MemoryOnlineStore:
    store = MemoryOnlineStore()
    write_rows(store, ViewSelection(stats, 1, stats.feature_names), stats_rows())
    return store


def reader(store: MemoryOnlineStore) -> OnlineReader:
    return OnlineReader(store, clock=lambda: NOW_MS)


def test_values_come_back_typed_with_nulls_and_statuses(store: MemoryOnlineStore) -> None:
    r = resolved(ViewSelection(stats, 1, ("spend", "visits", "tier", "vip", "seen")))
    response = reader(store).get(
        r, [{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 99}, {"customer_id": 3}]
    )
    assert response.columns["customer_id"] == [1, 2, 99, 3]
    assert response.columns["spend"] == [10.5, None, None, None]
    assert response.columns["visits"] == [1, 2, None, None]
    assert response.columns["tier"] == ["gold", "ßilver", None, None]
    assert response.columns["vip"] == [True, False, None, None]
    assert response.columns["seen"] == [NOW - timedelta(days=3), None, None, None]
    # row 1 is exactly at the TTL edge (now - 1 day): still served; row 3 is older: expired
    assert [s["spend"] for s in response.statuses] == [PRESENT, PRESENT, NOT_FOUND, EXPIRED]
    assert response.to_dicts()[0] == {
        "customer_id": 1,
        "spend": 10.5,
        "visits": 1,
        "tier": "gold",
        "vip": True,
        "seen": NOW - timedelta(days=3),
    }
    assert list(response.to_dataframe().columns) == ["customer_id", "spend", "visits", "tier", "vip", "seen"]


def test_expiry_is_relative_to_now(store: MemoryOnlineStore) -> None:
    r = resolved(ViewSelection(stats, 1, ("spend",)))
    later = OnlineReader(store, clock=lambda: NOW_MS + 1)
    assert later.get(r, [{"customer_id": 2}]).statuses == [{"spend": EXPIRED}]
    assert later.get(r, [{"customer_id": 2}]).columns["spend"] == [None]


def test_only_the_asked_features_in_request_order(store: MemoryOnlineStore) -> None:
    r = resolved(ViewSelection(stats, 1, ("tier", "spend")))
    response = reader(store).get(r, [{"customer_id": 1}])
    assert list(response.columns) == ["customer_id", "tier", "spend"]
    assert response.statuses == [{"tier": PRESENT, "spend": PRESENT}]


def test_full_feature_names(store: MemoryOnlineStore) -> None:
    r = resolved(ViewSelection(stats, 1, ("spend",)), full=True)
    assert reader(store).get(r, [{"customer_id": 1}]).columns["customer_stats__spend"] == [10.5]


def test_key_types_are_normalised(store: MemoryOnlineStore) -> None:
    r = resolved(ViewSelection(stats, 1, ("spend",)))
    rows = [
        {"customer_id": np.int64(1)},
        {"customer_id": 1.0},
        {"customer_id": np.int32(1)},
        {"customer_id": "1"},  # a string is another key (the join key type is not declared)
    ]
    assert reader(store).get(r, rows).columns["spend"] == [10.5, 10.5, 10.5, None]


def test_a_data_frame_of_entity_rows(store: MemoryOnlineStore) -> None:
    r = resolved(ViewSelection(stats, 1, ("visits",)))
    response = reader(store).get(r, pd.DataFrame({"customer_id": [2, 1], "other": ["x", "y"]}))
    assert response.columns["visits"] == [2, 1]


def test_missing_join_key_names_the_row_and_key(store: MemoryOnlineStore) -> None:
    r = resolved(ViewSelection(stats, 1, ("spend",)))
    with pytest.raises(
        InvalidInput, match=r"entity row 1 has no value for the join key 'customer_id'"
    ) as info:
        reader(store).get(r, [{"customer_id": 1}, {"customer": 2}])
    assert info.value.field == "customer_id"
    with pytest.raises(InvalidInput, match="entity row 0"):
        reader(store).get(r, [{"customer_id": None}])
    with pytest.raises(InvalidInput, match="entity_rows"):
        reader(store).get(r, {"customer_id": [1]})  # type: ignore[arg-type]


def test_another_version_reads_its_own_namespace(store: MemoryOnlineStore) -> None:
    r = resolved(ViewSelection(stats, 2, ("spend",)))
    assert reader(store).get(r, [{"customer_id": 1}]).statuses == [{"spend": NOT_FOUND}]
    assert namespace(stats, 2) != namespace(stats, 1)


def test_composite_keys_and_two_views(store: MemoryOnlineStore) -> None:
    write_rows(
        store,
        ViewSelection(pairs, 1, ("fraud_rate",)),
        pa.table(
            {
                "bank": [7, 7],
                "merchant": ["café", "shop"],
                "fraud_rate": pa.array([0.25, 0.5], pa.float32()),
                "event_ts": pa.array([NOW, NOW], pa.timestamp("us", tz="UTC")),
            }
        ),
    )
    r = resolved(ViewSelection(stats, 1, ("spend",)), ViewSelection(pairs, 1, ("fraud_rate",)))
    rows = [
        {"merchant": "shop", "bank": 7, "customer_id": 1},
        {"bank": 7, "merchant": "café", "customer_id": 5},
        {"bank": 8, "merchant": "café", "customer_id": 1},
    ]
    response = reader(store).get(r, rows)
    assert response.columns["fraud_rate"] == [0.5, 0.25, None]
    assert response.columns["spend"] == [10.5, None, 10.5]
    assert response.statuses[1] == {"spend": NOT_FOUND, "fraud_rate": PRESENT}


def test_on_demand_view_runs_over_the_fetched_rows(store: MemoryOnlineStore) -> None:
    r = resolved(
        ViewSelection(stats, 1, stats.feature_names),
        on_demand=(OnDemandSelection(ratio, 1, ("ratio",)),),
    )
    r = ResolvedFeatures(r.views, r.on_demand, ("ratio",), r.entity_columns, r.request_columns)
    rows = [{"customer_id": 1}, {"customer_id": 3}, {"customer_id": 42}]
    response = reader(store).get(r, rows, request_data={"amount": [21.0, 5.0, 1.0]})
    assert list(response.columns) == ["customer_id", "ratio"]
    assert response.columns["ratio"] == [2.0, None, None]
    assert [s["ratio"] for s in response.statuses] == [PRESENT, EXPIRED, NOT_FOUND]
    # request fields may also come with each entity row, or as one mapping per row
    assert reader(store).get(r, [{"customer_id": 1, "amount": 5.25}]).columns["ratio"] == [0.5]
    assert reader(store).get(r, [{"customer_id": 1}], request_data=[{"amount": 1.05}]).columns["ratio"] == [
        0.1
    ]
    frame = pd.DataFrame({"amount": [21.0, 5.0, 1.0]})
    assert reader(store).get(r, rows, request_data=frame).columns["ratio"] == [2.0, None, None]
    with pytest.raises(InvalidInput, match="request field 'amount'"):
        reader(store).get(r, rows)
    with pytest.raises(InvalidInput, match="2 values for 3 entity rows"):
        reader(store).get(r, rows, request_data={"amount": [1.0, 2.0]})


def test_no_entity_rows_gives_empty_columns(store: MemoryOnlineStore) -> None:
    response = reader(store).get(resolved(ViewSelection(stats, 1, ("spend",))), [])
    assert response.columns == {"customer_id": [], "spend": []}
    assert response.statuses == []


# ---- keys and records: the materialization encoding equals the request encoding ----------------

key_values = st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=20))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(key_values, st.integers(-(2**40), 2**40)), min_size=1, max_size=20))
def test_column_keys_equal_row_keys(pairs_: list[tuple[object, int]]) -> None:
    strings = [a for a, _ in pairs_ if isinstance(a, str)]
    first = [a for a, _ in pairs_ if isinstance(a, str) == bool(strings)]
    second = [b for a, b in pairs_ if isinstance(a, str) == bool(strings)]
    encoder = KeyEncoder(["b", "a"])
    keys, valid = encoder.encode_columns({"a": pa.array(first), "b": pa.array(second)})
    assert valid is None
    assert keys.to_pylist() == [encoder.encode({"a": a, "b": b}) for a, b in zip(first, second, strict=True)]
    assert len(set(keys.to_pylist())) == len(set(zip(first, second, strict=True)))


def test_keys_of_different_types_never_collide() -> None:
    encoder = KeyEncoder(["k"])
    assert encoder.encode({"k": 1}) != encoder.encode({"k": "1"}) != encoder.encode({"k": b"1"})
    composite = KeyEncoder(["a", "b"])
    assert composite.encode({"a": "xy", "b": "z"}) != composite.encode({"a": "x", "b": "yz"})


def test_declared_integer_keys_accept_digit_strings() -> None:
    encoder = KeyEncoder([Field("id", "int64")])
    assert encoder.encode({"id": "42"}) == encoder.encode({"id": 42})
    with pytest.raises(InvalidInput, match="must be an integer"):
        encoder.encode({"id": "forty-two"})
    with pytest.raises(InvalidInput, match="non-integral"):
        KeyEncoder(["id"]).encode_columns({"id": pa.array([1.5])})


def test_null_key_rows_are_masked_out() -> None:
    _, valid = KeyEncoder(["id"]).encode_columns({"id": pa.array([1, None, 3])})
    assert valid is not None and valid.to_pylist() == [True, False, True]


FIELDS = [
    Field("i32", "int32"),
    Field("i64", "int64"),
    Field("f32", "float32"),
    Field("f64", "float64"),
    Field("s", "string"),
    Field("b", "bool"),
    Field("raw", "bytes"),
    Field("t", "timestamp"),
    Field("s2", "string"),
]
records = st.fixed_dictionaries(
    {
        "i32": st.none() | st.integers(-(2**31), 2**31 - 1),
        "i64": st.none() | st.integers(-(2**63), 2**63 - 1),
        "f32": st.none() | st.floats(width=32, allow_nan=False),
        "f64": st.none() | st.floats(allow_nan=False),
        "s": st.none() | st.text(max_size=30),
        "b": st.none() | st.booleans(),
        "raw": st.none() | st.binary(max_size=30),
        "t": st.none()
        | st.datetimes(
            min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
        ),
        "s2": st.none() | st.text(max_size=5),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(records, min_size=1, max_size=15))
def test_records_round_trip(rows: list[dict[str, object]]) -> None:
    codec = ValueCodec(FIELDS)
    table = pa.Table.from_pylist(rows, schema=pa.schema([(f.name, f.dtype.arrow()) for f in FIELDS]))
    encoded = codec.encode_columns({n: table.column(n) for n in table.column_names}, table.num_rows)
    decoded = [codec.decode(b) for b in encoded.to_pylist()]
    expected = [tuple(table.column(f.name)[i].as_py() for f in FIELDS) for i in range(table.num_rows)]
    assert decoded == expected


def test_float_nan_survives() -> None:
    codec = ValueCodec([Field("x", "float64")])
    (value,) = codec.decode(codec.encode_columns({"x": pa.array([math.nan])}, 1)[0].as_py())
    assert isinstance(value, float) and math.isnan(value)
