"""``search_runs`` with a metric filter over 10,000 runs (10 metrics, 5 params each), on SQLite."""

from __future__ import annotations

import random
import statistics
import time

from common import Result, embedded_client, percentile

RUNS = 10_000
REPEAT = 30


def _populate(client: object) -> None:
    tracking = client.tracking  # type: ignore[attr-defined]
    rng = random.Random(7)
    tracking.create_experiment("bench-search")
    now = time.time_ns() // 1_000_000
    for i in range(RUNS):
        run = tracking.create_run("bench-search", name=f"run-{i}", user="bench")
        tracking.log_params(
            run.id,
            {
                "model": rng.choice(["gbm", "rf", "lr"]),
                "depth": rng.randint(2, 12),
                "lr": rng.choice([0.01, 0.03, 0.1]),
                "seed": i,
                "features": "v3",
            },
        )
        tracking.log_metrics(
            run.id, [(f"m{k}", rng.random(), 0, now) for k in range(9)] + [("auc", rng.random(), 0, now)]
        )


def run() -> list[Result]:
    results = []
    with embedded_client() as client:
        _populate(client)
        for label, flt, limit in [
            ("search 10k runs: metrics.auc > 0.8, 100 results", "metrics.auc > 0.8", 100),
            ("search 10k runs: metrics.auc > 0.8, all 1,000 results", "metrics.auc > 0.8", 1000),
            (
                "search 10k runs: auc > 0.5 and params.model = 'gbm'",
                "metrics.auc > 0.5 and params.model = 'gbm'",
                1000,
            ),
        ]:
            times = []
            for _ in range(REPEAT):
                started = time.perf_counter()
                found = client.tracking.search_runs(
                    ["bench-search"], flt, ["metrics.auc DESC"], max_results=limit
                )
                times.append((time.perf_counter() - started) * 1000)
            assert found and all(r.metrics["auc"].value > 0.5 for r in found)
            results.append(
                Result(
                    label + " (median)",
                    statistics.median(times),
                    "ms",
                    50.0,
                    note=f"{len(found)} runs returned; p95 {percentile(times, 95):.1f} ms",
                )
            )
    return results
