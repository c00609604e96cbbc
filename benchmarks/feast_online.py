"""Feast's SQLite online store on the same data as ``bench_features_online.py``: run by that
benchmark with the Python of ``.venv-feast`` (``make bench-feast``), never imported by Shipyard.

    feast_online.py WORKDIR SOURCE.parquet ENTITIES REPEAT

Registers one entity and one feature view (the same 10 features) over the Parquet file with a
local registry and the SQLite online store, materializes it, then times
``get_online_features(...).to_dict()`` for 1 and 100 random entities; prints JSON.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

FEATURES = {**{f"f{i}": "float64" for i in range(7)}, "n0": "int64", "n1": "int64", "city": "string"}


def _store(work: Path):  # type: ignore[no-untyped-def]
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    last: Exception | None = None
    for version in (3, 2):
        try:
            config = RepoConfig(
                project="bench",
                registry=str(work / "registry.db"),
                provider="local",
                online_store={"type": "sqlite", "path": str(work / "online.db")},
                entity_key_serialization_version=version,
            )
            return FeatureStore(config=config)
        except Exception as exc:  # older Feast: no version 3
            last = exc
    raise RuntimeError(f"cannot configure Feast: {last}")


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    work, source, entities, repeat = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    work.mkdir(parents=True, exist_ok=True)
    import feast
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64, String

    types = {"float64": Float64, "int64": Int64, "string": String}
    store = _store(work)
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="customer_online",
        entities=[customer],
        ttl=timedelta(days=1),
        schema=[Field(name=n, dtype=types[t]) for n, t in FEATURES.items()],
        source=FileSource(path=source, timestamp_field="event_timestamp"),
        online=True,
    )
    store.apply([customer, view])
    now = datetime.now(UTC)
    started = time.perf_counter()
    store.materialize(now - timedelta(days=1), now + timedelta(minutes=1))
    materialize_s = time.perf_counter() - started
    refs = [f"customer_online:{n}" for n in FEATURES]
    out: dict[str, object] = {"feast": feast.__version__, "materialize_s": materialize_s}
    rng = random.Random(1)
    for count in (1, 100):
        batches = [[{"customer_id": rng.randrange(entities)} for _ in range(count)] for _ in range(repeat)]
        for rows in batches[:50]:
            store.get_online_features(features=refs, entity_rows=rows).to_dict()
        times = []
        for rows in batches:
            t = time.perf_counter()
            result = store.get_online_features(features=refs, entity_rows=rows).to_dict()
            times.append((time.perf_counter() - t) * 1000)
        assert result["f0"][0] is not None, "Feast served no value: materialization failed"
        out[f"p50_{count}"] = _percentile(times, 50)
        out[f"p99_{count}"] = _percentile(times, 99)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
