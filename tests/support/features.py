"""A small feature repository for tests: drivers with trips and ratings, written as Parquet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from shipyard.features.model import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    OnDemandFeatureView,
    RequestSource,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rating_per_trip(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"rating_x_fare": frame["rating"] * frame["fare"]})


def write_driver_stats(folder: Path) -> Path:
    """Three drivers, hourly rows over a day; driver 3 has a row created (backfilled) late."""
    rows = []
    for driver in (1, 2, 3):
        for hour in range(0, 24, 6):
            ts = T0 + timedelta(hours=hour)
            rows.append(
                {
                    "driver_id": driver,
                    "event_timestamp": ts,
                    "created": ts
                    + (timedelta(days=2) if (driver == 3 and hour == 18) else timedelta(minutes=1)),
                    "trips": driver * 100 + hour,
                    "rating": 4.0 + driver / 10 + hour / 100,
                    "city": ["paris", "lyon", "nice"][driver - 1],
                }
            )
    path = folder / "driver_stats.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def driver_definitions(path: Path, *, ttl: timedelta | None = timedelta(hours=12)) -> list[Definition]:
    driver = Entity(
        "driver", {"driver_id": "int64"}, description="A driver", owner="ops", tags={"domain": "mobility"}
    )
    stats = FeatureView(
        "driver_stats",
        entities=[driver],
        features=[
            Field("trips", "int64", description="Trips so far"),
            Field("rating", "float64", description="Average rating"),
            Field("city", "string"),
        ],
        source=FileSource("driver_stats_file", str(path)),
        created_timestamp_field="created",
        ttl=ttl,
        description="Hourly driver statistics",
        owner="ops",
        tags={"team": "ops", "tier": "gold"},
    )
    fare = RequestSource("ride", {"fare": "float64"})
    combined = OnDemandFeatureView(
        "driver_fare", sources=[stats, fare], features={"rating_x_fare": "float64"}, function=rating_per_trip
    )
    service = FeatureService(
        "eta_model", ["driver_stats:trips", "driver_stats:rating", "driver_fare"], owner="ml"
    )
    return [driver, stats, fare, combined, service]
