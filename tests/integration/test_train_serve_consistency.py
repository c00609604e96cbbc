"""Train/serve consistency: for a sample of entities, the values a model is trained on (the
point-in-time join at T = now) are exactly the values served online after materialization,
including a view with a SQL transformation and an on-demand view with request data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.features.model import (
    Entity,
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    RequestSource,
)
from shipyard.features.online import NOT_FOUND, PRESENT
from support.databases import redis_server_url, seed_embedded_home

DRIVERS = 400
NOW = datetime.now(UTC).replace(microsecond=0)


def trip_value(frame: pd.DataFrame) -> pd.DataFrame:
    """An on-demand feature mixing a stored feature with request data."""
    return pd.DataFrame(
        {
            "fare_per_trip": frame["fare"] / (frame["trips"] + 1),
            "long_ride": frame["distance_km"] > frame["conv_pct"] / 10,
        }
    )


def _source(folder: Path) -> Path:
    rng = np.random.default_rng(11)
    stamps = [NOW - timedelta(hours=h, minutes=int(m)) for h in range(1, 49) for m in rng.integers(0, 59, 1)]
    n = DRIVERS * len(stamps)
    frame = pd.DataFrame(
        {
            "driver_id": np.tile(np.arange(DRIVERS, dtype=np.int64), len(stamps)),
            "event_timestamp": np.repeat(stamps, DRIVERS),
            "conv_rate": rng.random(n),
            "trips": rng.integers(0, 50, n).astype(np.int64),
            "city": rng.choice(["paris", "zürich", "tokyo"], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "conv_rate"] = np.nan  # some nulls
    frame = frame[~(frame.driver_id % 97 == 0)]  # some drivers have no history at all
    path = folder / "driver_hourly.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame.sample(frac=1.0, random_state=3), preserve_index=False), path)
    return path


@pytest.fixture(params=["sqlite", "redis"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    online = redis_server_url() if request.param == "redis" else None
    app = build_app(load_settings(home=seed_embedded_home(tmp_path / "home"), online_store=online))
    app.features.online.drop("driver_hourly.v1")  # a shared Redis may hold an earlier run's keys
    yield app
    app.features.online.drop("driver_hourly.v1")
    app.close()


def test_offline_and_online_values_are_identical(app: App, tmp_path: Path) -> None:
    driver = Entity("driver", {"driver_id": "int64"})
    hourly = FeatureView(
        "driver_hourly",
        entities=[driver],
        features={"conv_pct": "float64", "trips": "int64", "city": "string"},
        source=FileSource("driver_hourly_src", str(_source(tmp_path / "data"))),
        transformation=(
            "SELECT driver_id, event_timestamp, round(conv_rate * 100, 3) AS conv_pct, trips, upper(city) AS city "
            "FROM source"
        ),
        ttl=timedelta(days=7),
    )
    ride = RequestSource("ride", {"fare": "float64", "distance_km": "float64"})
    value = OnDemandFeatureView(
        "trip_value",
        sources=[hourly, ride],
        features={"fare_per_trip": "float64", "long_ride": "bool"},
        function=trip_value,
    )
    service = FeatureService("pricing", ["driver_hourly", "trip_value"])
    fs = app.features
    fs.apply([driver, hourly, ride, value, service], actor="test")

    [result] = fs.materialize_incremental(end=NOW + timedelta(seconds=1))
    assert result.status == "succeeded" and result.keys_written > 0

    rng = np.random.default_rng(5)
    sample = [int(d) for d in rng.choice(DRIVERS, 60, replace=False)] + [0, 97, 10_000]  # no history
    fares = [float(x) for x in rng.random(len(sample)) * 40]
    distances = [float(x) for x in rng.random(len(sample)) * 10]

    entity_df = pd.DataFrame(
        {
            "driver_id": sample,
            "event_timestamp": [NOW + timedelta(seconds=1)] * len(sample),
            "fare": fares,
            "distance_km": distances,
        }
    )
    resolved = fs.resolve(service="pricing")
    offline = fs.offline.historical(entity_df, resolved)
    online = fs.get_online_features(
        service="pricing",
        entity_rows=[{"driver_id": d} for d in sample],
        request_data={"fare": fares, "distance_km": distances},
    )
    features = list(resolved.output_columns)
    assert features == ["conv_pct", "trips", "city", "fare_per_trip", "long_ride"]
    compared = 0
    for name in features:
        expected = offline.column(name).to_pylist()
        assert online.columns[name] == expected, name
        compared += sum(v is not None for v in expected)
    assert compared > 200  # most sampled entities have values: the comparison is not vacuous
    assert [s["conv_pct"] for s in online.statuses] == [
        NOT_FOUND if d % 97 == 0 or d >= DRIVERS else PRESENT for d in sample
    ]
    assert [s["fare_per_trip"] for s in online.statuses] == [s["conv_pct"] for s in online.statuses]
    assert set(online.columns["city"]) <= {"PARIS", "ZÜRICH", "TOKYO", None}  # the transformation ran
