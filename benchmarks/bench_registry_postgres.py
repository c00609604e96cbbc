"""The model registry on PostgreSQL (``SHIPYARD_BENCH_POSTGRES_URL``, else
``SHIPYARD_TEST_POSTGRES_URL``; a fresh database): versions registered per second from one run's
packaged model, then stage transitions per second (registered to staging). Each call is one write
transaction with its lifecycle entry, audit record and event, as a CI job promoting models in a
loop makes them."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from bench_rest_writes import _migrated_postgres
from common import Result, embedded_client

VERSIONS = 200
ACTOR = "bench"


def run() -> list[Result]:
    with _migrated_postgres() as url:
        if url is None:
            return [Result("registry on PostgreSQL: not run (no PostgreSQL URL set)", 0, "versions/s")]
        rows = np.random.default_rng(0).normal(size=(200, 4))
        frame = pd.DataFrame(rows, columns=["a", "b", "c", "d"])
        model = LogisticRegression().fit(frame, frame["a"] > 0)
        with embedded_client(db_url=url) as client:
            with client.start_run("bench-registry") as packaged:
                packaged.log_model(model, input_example=frame.head(5))
            registry = client.registry
            registry.create_version("warm-up", packaged.id, actor=ACTOR)
            started = time.perf_counter()
            for _ in range(VERSIONS):
                registry.create_version("bench-model", packaged.id, actor=ACTOR)
            registered = VERSIONS / (time.perf_counter() - started)
            started = time.perf_counter()
            for version in range(1, VERSIONS + 1):
                registry.transition("bench-model", version, "staging", actor=ACTOR)
            moved = VERSIONS / (time.perf_counter() - started)
            assert len(registry.list_versions("bench-model", stage="staging")) == VERSIONS
    return [
        Result("registry on PostgreSQL: versions registered", registered, "versions/s", higher=True),
        Result("registry on PostgreSQL: stage transitions", moved, "transitions/s", higher=True),
    ]
