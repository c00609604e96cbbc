"""Point-in-time join: 1,000,000 entity rows against 10,000,000 feature rows (100,000 entities x
100 timestamps, 5 features), Parquet on local disk, target < 10 s on 2 cores.

With ``.venv-feast`` present (``make bench-feast``), also Feast's file offline store on the same
files at a scale it finishes in a few minutes (100,000 x 1,000,000), Shipyard at that scale too,
and the ratio. Data is generated once with numpy into ``$TMPDIR/shipyard-bench-features``.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common import Result, anchor_figures
from shipyard.features.model import Entity, FeatureView, FileSource
from shipyard.features.offline import OfflineStore
from shipyard.features.selection import ResolvedFeatures, ViewSelection
from shipyard.storage.artifacts.memory import MemoryArtifactStore

CACHE = Path(tempfile.gettempdir()) / "shipyard-bench-features"
FEAST_PYTHON = Path(__file__).resolve().parent.parent / ".venv-feast" / "bin" / "python"
START = datetime(2024, 1, 1, tzinfo=UTC)
FEATURES = ("f0", "f1", "f2", "f3", "f4")
FEAST_SCALE = os.environ.get("SHIPYARD_BENCH_FEAST_SCALE", "medium")
SCALES = {
    "big": (100_000, 100, 1_000_000),
    "medium": (30_000, 100, 300_000),
    "small": (10_000, 100, 100_000),
}


def dataset(scale: str) -> tuple[Path, Path]:
    """(features.parquet, entities.parquet) for ``scale``, written once and reused."""
    keys, per_key, entity_rows = SCALES[scale]
    folder = CACHE / scale
    features, entities = folder / "features.parquet", folder / "entities.parquet"
    if features.exists() and entities.exists():
        return features, entities
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    n = keys * per_key
    hour = 3_600_000_000
    ids = np.repeat(np.arange(keys, dtype=np.int64), per_key)
    # Hourly rows with jitter over ~4 days per entity; written in row groups of 1M.
    ts = np.tile(np.arange(per_key, dtype=np.int64) * hour, keys) + rng.integers(0, hour, n)
    base = int(START.timestamp() * 1_000_000)
    table = pa.table(
        {
            "customer_id": ids,
            "event_timestamp": pa.array(ts + base, type=pa.timestamp("us", tz="UTC")),
            "created": pa.array(
                ts + base + rng.integers(0, 60_000_000, n), type=pa.timestamp("us", tz="UTC")
            ),
            **{f: rng.standard_normal(n) for f in FEATURES},
        }
    )
    tmp = features.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=1_000_000)
    tmp.rename(features)
    span = per_key * hour
    entity = pa.table(
        {
            "customer_id": rng.integers(0, keys + keys // 100, entity_rows),  # 1% unknown entities
            "event_timestamp": pa.array(
                base + rng.integers(0, span, entity_rows), type=pa.timestamp("us", tz="UTC")
            ),
        }
    )
    tmp = entities.with_suffix(".tmp")
    pq.write_table(entity, tmp)
    tmp.rename(entities)
    return features, entities


def resolved(path: Path) -> ResolvedFeatures:
    view = FeatureView(
        "customer_stats",
        entities=[Entity("customer", {"customer_id": "int64"})],
        features={f: "float64" for f in FEATURES},
        source=FileSource("customer_source", str(path)),
        created_timestamp_field="created",
        ttl=timedelta(days=2),
    )
    return ResolvedFeatures(
        views=(ViewSelection(view, 1, FEATURES),),
        on_demand=(),
        output_columns=FEATURES,
        entity_columns=("customer_id",),
        request_columns=(),
    )


def shipyard_join(scale: str, respect_created: bool = True, repeat: int = 3) -> dict[str, float]:
    """Figures of the median of ``repeat`` runs (the machine may be shared)."""
    features, entities = dataset(scale)
    entity_df = pq.read_table(entities)
    store = OfflineStore(
        artifacts=MemoryArtifactStore(),
        memory_limit=os.environ.get("SHIPYARD_OFFLINE_MEMORY_LIMIT", "8GB"),
        temp_directory=CACHE / "spill",
    )
    runs = []
    for _ in range(repeat):
        cpu = time.process_time()
        started = time.perf_counter()
        out = store.historical(entity_df, resolved(features), respect_created_timestamp=respect_created)
        elapsed = time.perf_counter() - started
        assert out.num_rows == entity_df.num_rows
        f0 = out.column("f0")
        runs.append(
            {
                "seconds": elapsed,
                "cpu": time.process_time() - cpu,
                "rows": out.num_rows,
                "f0_nulls": f0.null_count,
                "f0_sum": float(pc.sum(f0).as_py() or 0.0),
            }
        )
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def feast_join(scale: str) -> dict[str, float] | None:
    if not FEAST_PYTHON.exists():
        return None
    features, entities = dataset(scale)
    return anchor_figures(FEAST_PYTHON, "feast_offline.py", features, entities, CACHE / "feast-repo")


def _label(scale: str) -> str:
    keys, per_key, entity_rows = SCALES[scale]
    return f"{entity_rows:,} x {keys * per_key:,} rows"


def run() -> list[Result]:
    big = shipyard_join("big")
    results = [
        Result(
            f"point-in-time join {_label('big')} (5 features, TTL, created ts; median of 3)",
            big["seconds"],
            "s",
            10.0,
            note=f"{big['cpu']:.1f} CPU-s; {big['f0_nulls']:,} entity rows without a value (unknown or beyond TTL)",
        )
    ]
    feast = feast_join(FEAST_SCALE)
    if feast is not None:
        # Feast uses the created time only to break ties (late rows are visible), so Shipyard runs
        # with respect_created_timestamp=False here: the same semantics, the same f0 sum.
        ours = shipyard_join(FEAST_SCALE, respect_created=False)
        same = math.isclose(ours["f0_sum"], feast["f0_sum"], rel_tol=1e-9)
        results.append(
            Result(
                f"Feast file offline store, {_label(FEAST_SCALE)}",
                feast["seconds"],
                "s",
                note=f"returned {int(feast['rows']):,} of {int(ours['rows']):,} entity rows (drops those without history); "
                f"values {'match' if same else 'DIFFER'}",
            )
        )
        results.append(
            Result(
                f"Shipyard, same {_label(FEAST_SCALE)} (median of 3)",
                ours["seconds"],
                "s",
                note=f"{ours['cpu']:.1f} CPU-s",
            )
        )
        ratio = ours["seconds"] / feast["seconds"]
        results.append(
            Result(
                "join time Shipyard / Feast (<= 0.05 means >= 20x faster)",
                ratio,
                "x",
                0.05,
                note=f"Shipyard is {1 / ratio:.1f}x faster; in CPU time {feast['cpu'] / ours['cpu']:.1f}x "
                f"({feast['cpu']:.1f} vs {ours['cpu']:.1f} CPU-s)",
            )
        )
    return results


if __name__ == "__main__":
    for r in run():
        print(f"{r.name}: {r.value:.3f} {r.unit} {r.note}")
