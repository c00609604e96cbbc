"""Per-step overhead of pipelines on the in-process executor, on SQLite: a 100-step chain of
no-op steps, each step recorded as a nested tracking run, uncached and then fully cached; and the
first run in a fresh embedded home, start-up included. (Prefect 3.9 with its local server measures
about 31 ms per no-op task, 11 ms per cached task and 14 s for its first flow on this machine.)"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from chain_pipeline import LENGTH, chain
from common import Result
from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.pipelines.model import RunState

REPEATS = 3


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as home:
        started = time.perf_counter()
        app = build_app(load_settings(home=Path(home)))
        first = app.pipelines.run(chain, {"seed": -1}, started_by="bench")
        first_s = time.perf_counter() - started
        assert first.state is RunState.SUCCEEDED
        try:
            uncached, cached = [], []
            for i in range(REPEATS):
                t0 = time.perf_counter()
                r = app.pipelines.run(chain, {"seed": i}, started_by="bench", cache=False)
                uncached.append((time.perf_counter() - t0) * 1000 / LENGTH)
                assert r.state is RunState.SUCCEEDED
                t0 = time.perf_counter()
                r = app.pipelines.run(chain, {"seed": i}, started_by="bench")
                cached.append((time.perf_counter() - t0) * 1000 / LENGTH)
                assert {s.state for s in r.steps} == {RunState.CACHED}
        finally:
            app.close()
    per_step, per_cached = statistics.median(uncached), statistics.median(cached)
    return [
        Result(
            "pipeline step, 100-step chain, in process (per step)",
            per_step,
            "ms",
            5.0,
            note=f"{1000 / per_step:,.0f} steps/s",
        ),
        Result(
            "cached pipeline step, 100-step chain (per step)",
            per_cached,
            "ms",
            2.0,
            note=f"{1000 / per_cached:,.0f} steps/s",
        ),
        Result("first pipeline run in a fresh home, start-up included", first_s, "s", 2.0),
    ]
