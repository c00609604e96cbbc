"""The embedded SDK pointed at PostgreSQL (``SHIPYARD_BENCH_POSTGRES_URL``, else
``SHIPYARD_TEST_POSTGRES_URL``; a fresh database): ``log_metric`` points/s until stored, and runs/s
for a run with 20 params and 10 metrics, the params logged after the start (start, log, end: three
transactions, the metrics travel with the end) or given to ``start_run`` (two transactions)."""

from __future__ import annotations

import time

from bench_rest_writes import _migrated_postgres
from common import Result, embedded_client

POINTS = 300_000
RUNS = 300
PARAMS = {f"param_{i}": i * 0.5 for i in range(20)}
METRICS = {f"metric_{i}": i / 10 for i in range(10)}


def run() -> list[Result]:
    with _migrated_postgres() as url:
        if url is None:
            return [Result("SDK on PostgreSQL: not run (no PostgreSQL URL set)", 0, "points/s")]
        with embedded_client(db_url=url) as client:
            started = time.perf_counter()
            with client.start_run("bench-pg") as run:
                log = run.log_metric
                for i in range(POINTS):
                    log("loss", 1.0 / (i + 1), step=i)
            points_per_s = POINTS / (time.perf_counter() - started)
            assert len(client.tracking.metric_history(run.id, "loss")) == POINTS
            client.start_run("bench-pg-runs").end()  # warm up
            started = time.perf_counter()
            for _ in range(RUNS):
                with client.start_run("bench-pg-runs") as r:
                    r.log_params(PARAMS)
                    r.log_metrics(METRICS)
            logged_after = RUNS / (time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(RUNS):
                with client.start_run("bench-pg-runs", params=PARAMS) as r:
                    r.log_metrics(METRICS)
            given_at_start = RUNS / (time.perf_counter() - started)
    return [
        Result("SDK on PostgreSQL: log_metric", points_per_s, "points/s", 300_000, higher=True),
        Result(
            "SDK on PostgreSQL: runs with 20 params + 10 metrics, params given to start_run",
            given_at_start,
            "runs/s",
            500,
            higher=True,
        ),
        Result("SDK on PostgreSQL: the same, params logged after the start", logged_after, "runs/s"),
    ]
