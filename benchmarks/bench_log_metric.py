"""1,000,000 metric points logged through the SDK, one ``log_metric`` call per point, on SQLite.
The clock stops when the run has ended, i.e. when every point is in the database."""

from __future__ import annotations

import time

from common import Result, embedded_client

POINTS = 1_000_000


def run() -> list[Result]:
    with embedded_client() as client:
        started = time.perf_counter()
        with client.start_run("bench-log-metric") as run:
            log = run.log_metric
            for i in range(POINTS):
                log("loss", 1.0 / (i + 1), step=i)
        elapsed = time.perf_counter() - started
        stored = len(client.tracking.metric_history(run.id, "loss"))
    assert stored == POINTS, f"only {stored} of {POINTS} points stored"
    return [
        Result("log_metric x 1,000,000 (SQLite, until stored)", elapsed, "s", 3.0),
        Result("log_metric throughput", POINTS / elapsed / 1000, "k points/s", note="higher is better"),
    ]
