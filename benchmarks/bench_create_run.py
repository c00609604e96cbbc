"""Creating a run with 20 params and 10 metrics through the SDK (start, log, end), on SQLite."""

from __future__ import annotations

import statistics
import time

from common import Result, embedded_client, percentile

RUNS = 1000
PARAMS = {f"param_{i}": i * 0.5 for i in range(20)}
METRICS = {f"metric_{i}": i / 10 for i in range(10)}


def run() -> list[Result]:
    with embedded_client() as client:
        client.start_run("bench-create-run").end()  # warm up: experiment, environment capture
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            with client.start_run("bench-create-run") as run:
                run.log_params(PARAMS)
                run.log_metrics(METRICS)
            times.append((time.perf_counter() - started) * 1000)
        last = client.tracking.get_run(run.id)
    assert len(last.params) == 20 and len(last.metrics) == 10
    return [
        Result("create run, 20 params + 10 metrics (mean)", statistics.mean(times), "ms", 2.0),
        Result("create run, 20 params + 10 metrics (p95)", percentile(times, 95), "ms"),
    ]
