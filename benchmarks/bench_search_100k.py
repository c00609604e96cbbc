"""The first page of a search over 100,000 runs: 100 runs with a metric filter, ordered by that
metric, on SQLite and PostgreSQL (``SHIPYARD_BENCH_POSTGRES_URL``, else
``SHIPYARD_TEST_POSTGRES_URL``). The runs and their latest metrics are inserted in bulk (what is
measured is the search, not the writes)."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

import shipyard.tracking.tables as tables
from bench_rest_writes import _postgres
from common import Result, percentile
from shipyard.migrations import runner
from shipyard.storage.artifacts.content import ContentStore
from shipyard.storage.artifacts.memory import MemoryArtifactStore
from shipyard.storage.metadata.database import Database
from shipyard.tracking.service import TrackingService

RUNS = 100_000
REPEAT = 30
BASE = 1_700_000_000_000


def _populate(db: Database) -> None:
    rng = random.Random(11)
    with db.write() as conn:
        conn.execute(
            insert(tables.ExperimentRow.__table__),
            [{"id": "e" * 32, "name": "bench-100k", "description": "", "created_at": BASE}],
        )
        for start in range(0, RUNS, 10_000):
            ids = [f"{i:032d}" for i in range(start, start + 10_000)]
            conn.execute(
                insert(tables.RunRow.__table__),
                [
                    {"id": r, "experiment_id": "e" * 32, "name": r, "status": "FINISHED", "start_time": BASE + i,
                     "user": "bench", "note": "", "command": ""}
                    for i, r in enumerate(ids, start)
                ],
            )  # fmt: skip
            conn.execute(
                insert(tables.LatestMetricRow.__table__),
                [
                    {"run_id": r, "key": k, "value": rng.random(), "step": 0, "timestamp": BASE}
                    for r in ids
                    for k in ("auc", "loss", "f1")
                ],
            )
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def _measure(label: str, url: str) -> list[Result]:
    db = Database(url)
    try:
        runner.upgrade(db)
        _populate(db)
        tracking = TrackingService(db, ContentStore(MemoryArtifactStore()))
        times = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            found = tracking.search_runs(
                ["bench-100k"], "metrics.auc > 0.8", ["metrics.auc DESC"], max_results=100
            )
            times.append((time.perf_counter() - started) * 1000)
        assert len(found) == 100 and all(r.metrics["auc"].value > 0.8 for r in found)
    finally:
        db.engine.dispose()
    return [
        Result(
            f"search 100k runs, {label}: metrics.auc > 0.8 by auc DESC, first 100 (median)",
            statistics.median(times),
            "ms",
            50.0,
            note=f"p95 {percentile(times, 95):.1f} ms",
        )
    ]


def run() -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-100k-") as tmp:
        results += _measure("SQLite", f"sqlite:///{Path(tmp) / 'search.db'}")
    with _postgres() as url:
        if url is not None:
            results += _measure("PostgreSQL", url)
    return results
