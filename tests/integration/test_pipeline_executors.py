"""Pipelines on PostgreSQL, on the process pool and on a real local Ray: the same code, the same
recorded lineage, independent steps side by side, one run per firing key under concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.pipelines.model import PipelineRun, RunState
from support import pipeline_defs as defs
from support.databases import fresh_postgres_database

TESTS = Path(__file__).resolve().parents[1]


def _app(tmp_path: Path, **settings: object) -> App:
    app = build_app(
        load_settings(home=tmp_path / "home", artifacts=str(tmp_path / "artifacts"), **settings),
        migrate=False,
    )
    runner.upgrade(app.db)
    return app


def _lineage(app: App, run: PipelineRun) -> dict[str, object]:
    """The run's recorded data flow with run ids replaced by step names: comparable across runs."""
    names = {s.run_id: s.node for s in run.steps}
    flow: dict[str, object] = {}
    for s in run.steps:
        datasets = app.tracking.run_datasets(s.run_id or "")
        artifacts = [a for a in app.tracking.list_artifacts(s.run_id or "") if a.path == "output"]
        flow[s.node] = {
            "inputs": sorted((d.context, d.dataset.digest) for d in datasets),
            "outputs": [a.digest for a in artifacts],
            "parent": names.get(app.tracking.get_run(s.run_id or "").parent_id, "pipeline"),
        }
    return flow


@pytest.mark.slow
def test_ray_records_the_same_lineage_as_local(ray_session: None, tmp_path: Path) -> None:
    app = _app(tmp_path)
    try:
        params = {"rows": 12, "c": 0.7}
        local = app.pipelines.run(defs.training, params, started_by="ann", executor="local", cache=False)
        on_ray = app.pipelines.run(defs.training, params, started_by="ann", executor="ray", cache=False)
        assert local.state is on_ray.state is RunState.SUCCEEDED, on_ray.error
        assert on_ray.executor == "ray"
        local_flow, ray_flow = _lineage(app, local), _lineage(app, on_ray)
        # The model package embeds its creation time; every other output is byte-identical.
        for flow in (local_flow, ray_flow):
            flow["train"]["outputs"] = ["model"]  # type: ignore[index]
            flow["evaluate"]["inputs"] = [i for i in flow["evaluate"]["inputs"] if i[0] != "model"]  # type: ignore[index]
        assert local_flow == ray_flow
    finally:
        app.close()


def _overlap(run: PipelineRun, a: str, b: str) -> bool:
    sa = next(s for s in run.steps if s.node == a)
    sb = next(s for s in run.steps if s.node == b)
    assert sa.started_at and sa.finished_at and sb.started_at and sb.finished_at
    return sa.started_at < sb.finished_at and sb.started_at < sa.finished_at


@pytest.mark.slow
def test_process_pool_runs_independent_steps_side_by_side(tmp_path: Path) -> None:
    app = _app(tmp_path, executor="process")
    try:
        run = app.pipelines.run(defs.parallel, {"seconds": 1.5}, started_by="ann")
        assert run.state is RunState.SUCCEEDED, run.error
        assert run.executor == "process"
        assert _overlap(run, "sleep_then", "sleep_then_2")
    finally:
        app.close()


@pytest.mark.postgres
def test_postgres_caches_and_starts_one_run_per_firing(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        app = _app(tmp_path, db_url=url)
        try:
            first = app.pipelines.run(defs.training, started_by="ann")
            second = app.pipelines.run(defs.training, started_by="ann")
            assert first.state is RunState.SUCCEEDED
            assert {s.state for s in second.steps} == {RunState.CACHED}
            app.pipelines.apply(defs.chain, actor="ann")
            ids: list[str] = []
            barrier = threading.Barrier(4)

            def fire() -> None:
                barrier.wait()
                ids.append(
                    app.pipelines.submit("chain", {}, started_by="t", trigger_id="t", firing_key="t@1")
                )

            threads = [threading.Thread(target=fire) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(ids) == 4 and len(set(ids)) == 1
            assert app.pipelines.wait(ids[0], timeout=120).state is RunState.SUCCEEDED
            assert [r.id for r in app.pipelines.list_runs("chain")] == ids[:1]
            assert app.pipelines.active_runs("t") == 0
        finally:
            app.close()
