"""Feast's file offline store on the benchmark's files (run inside ``.venv-feast``, not Shipyard's
venv): ``python feast_offline.py FEATURES.parquet ENTITIES.parquet REPO_DIR``.

Prints one JSON line: seconds (and CPU seconds) for ``get_historical_features(...).to_df()``, rows, and the null
count and sum of ``f0`` (so the caller can check both stores returned the same values).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64

FEATURES = ("f0", "f1", "f2", "f3", "f4")


def main(features: Path, entities: Path, repo: Path) -> None:
    shutil.rmtree(repo, ignore_errors=True)
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(
        "project: bench\n"
        f"registry: {repo / 'data' / 'registry.db'}\n"
        "provider: local\n"
        "online_store:\n"
        "  type: sqlite\n"
        f"  path: {repo / 'data' / 'online.db'}\n"
        "offline_store:\n"
        "  type: file\n"
        "entity_key_serialization_version: 3\n"
    )
    customer = Entity(name="customer", join_keys=["customer_id"])
    source = FileSource(
        name="customer_source",
        path=str(features),
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    view = FeatureView(
        name="customer_stats",
        entities=[customer],
        ttl=timedelta(days=2),
        schema=[Field(name=f, dtype=Float64) for f in FEATURES],
        source=source,
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply([customer, view])
    entity_df = pd.read_parquet(entities)
    cpu = time.process_time()
    started = time.perf_counter()
    out = store.get_historical_features(
        entity_df=entity_df, features=[f"customer_stats:{f}" for f in FEATURES]
    ).to_df()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "rows": len(out),
                "f0_nulls": int(out["f0"].isna().sum()),
                "f0_sum": float(out["f0"].sum()),
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
