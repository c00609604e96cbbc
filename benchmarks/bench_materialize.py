"""Materialization: 10,000,000 source rows (1,000,000 entities x 10 hourly rows, 5 features:
3 float64, 1 int64, 1 string) from Parquet into the online store, newest row per entity.

Targets: into Redis < 60 s, into SQLite < 30 s (wall time of ``FeatureStore.materialize``: DuckDB
scan and arg-max per key, encoding, writes; statistics afterwards are not counted). Data is
generated once with numpy into ``$TMPDIR/shipyard-bench-materialize``. Redis comes from
``SHIPYARD_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). Another shape, e.g. 10,000,000
entities with one row each (every source row becomes a key):
``SHIPYARD_BENCH_MATERIALIZE_ENTITIES=10000000 SHIPYARD_BENCH_MATERIALIZE_PER_ENTITY=1``.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common import Result
from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.features import materialize as run_materialize
from shipyard.features.model import Entity, FeatureView, FileSource
from shipyard.features.selection import ViewSelection

ENTITIES = int(os.environ.get("SHIPYARD_BENCH_MATERIALIZE_ENTITIES", 1_000_000))
PER_ENTITY = int(os.environ.get("SHIPYARD_BENCH_MATERIALIZE_PER_ENTITY", 10))
CACHE = Path(tempfile.gettempdir()) / "shipyard-bench-materialize"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = START + timedelta(hours=PER_ENTITY)
REDIS_URL = os.environ.get("SHIPYARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def source() -> Path:
    """A folder of Parquet files (one per hour), written once and reused."""
    folder = CACHE / f"{ENTITIES}x{PER_ENTITY}"
    if (folder / "done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(9)
    base = int(START.timestamp() * 1_000_000)
    cities = np.array(["paris", "zürich", "tokyo", "são paulo", "lagos", "lima"])
    for hour in range(PER_ENTITY):
        stamps = base + hour * 3_600_000_000 + rng.integers(0, 3_600_000_000, ENTITIES)
        table = pa.table(
            {
                "customer_id": np.arange(ENTITIES, dtype=np.int64),
                "event_timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                "spend": rng.standard_normal(ENTITIES),
                "rate": rng.random(ENTITIES),
                "score": rng.standard_normal(ENTITIES),
                "orders": rng.integers(0, 500, ENTITIES),
                "city": pa.array(cities[rng.integers(0, len(cities), ENTITIES)]),
            }
        )
        pq.write_table(table, folder / f"hour-{hour:02d}.parquet")
    (folder / "done").touch()
    return folder


def materialize_into(online_store: str | None, folder: Path, home: Path) -> tuple[float, int, int]:
    app = build_app(load_settings(home=home, online_store=online_store))
    try:
        customer = Entity("customer", {"customer_id": "int64"})
        view = FeatureView(
            "customer_bulk",
            entities=[customer],
            features={
                "spend": "float64",
                "rate": "float64",
                "score": "float64",
                "orders": "int64",
                "city": "string",
            },
            source=FileSource("customer_bulk_src", str(folder / "*.parquet")),
        )
        app.features.apply([customer, view], actor="bench")
        app.features.online.drop("customer_bulk.v1")
        registered = app.features.get_view("customer_bulk")
        started = time.perf_counter()
        [result] = run_materialize.materialize(
            app.db,
            app.features.offline,
            app.features.online,
            [ViewSelection(registered, 1, registered.feature_names)],
            START,
            END,
        )
        seconds = time.perf_counter() - started
        app.features.online.drop("customer_bulk.v1")
        return seconds, result.rows_read, result.keys_written
    finally:
        app.close()


def redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


def run() -> list[Result]:
    folder = source()
    rows = ENTITIES * PER_ENTITY
    results = []
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-materialize-") as tmp:
        targets = [("SQLite", None, 30.0)] + ([("Redis", REDIS_URL, 60.0)] if redis_available() else [])
        for label, url, target in targets:
            seconds, read, written = materialize_into(url, folder, Path(tmp) / label)
            assert read == ENTITIES and written == ENTITIES, (read, written)
            results.append(
                Result(
                    f"materialize {rows:,} source rows into {label}",
                    seconds,
                    "s",
                    target,
                    note=f"{written:,} entity keys written, {written / seconds:,.0f} keys/s",
                )
            )
    return results


if __name__ == "__main__":
    for r in run():
        print(f"{r.name}: {r.value:.2f} {r.unit} (target {r.target}) {r.note}")
