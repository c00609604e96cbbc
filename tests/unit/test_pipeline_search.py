"""Search studies persist beside the metadata database: a search step that runs again after a
crash (a retry, or a resumed run) continues its study instead of starting over."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from shipyard.app import App
from shipyard.pipelines import studies
from shipyard.pipelines.model import PipelineRun, RunState
from support import pipeline_defs as defs


def trial_log(marker: Path) -> tuple[list[int], list[int]]:
    """The trial numbers the objective ran, and those refitted."""
    lines = marker.read_text().splitlines()
    trials = [int(x) for x in lines if not x.startswith("refit")]
    refits = [int(x.split()[1]) for x in lines if x.startswith("refit")]
    return trials, refits


def recorded_trials(app: App, run: PipelineRun) -> dict[int, tuple[str, float]]:
    """Trial number -> (state, c) as recorded under the search step's run."""
    runs = app.tracking.search_runs(
        [f"pipelines/{run.pipeline}"], filter="tags.`shipyard.step` = 'tune_until_crash'"
    )
    return {
        int(r.name.rsplit("-", 1)[1]): (r.tags["shipyard.trial.state"], float(r.params["c"]))
        for r in runs
        if r.parent_id == run.steps[0].run_id
    }


def test_location_is_beside_the_metadata_database_never_in_it(tmp_path: Path) -> None:
    assert studies.location(f"sqlite:///{tmp_path}/shipyard.db") == (
        f"sqlite:///{tmp_path}/shipyard-studies.db",
        None,
    )
    assert studies.location("sqlite://") == (None, None)
    assert studies.location("postgresql://u:p@db:5432/meta") == (
        "postgresql+psycopg://u:p@db:5432/meta",
        studies.SCHEMA,
    )


def test_a_retried_search_continues_its_study(app: App, tmp_path: Path) -> None:
    marker = tmp_path / "trials.log"
    run = app.pipelines.run(defs.crashing_search, {"marker": str(marker)}, started_by="ann")
    assert run.state is RunState.SUCCEEDED, run.error
    assert run.steps[0].attempt == 2
    trials, refits = trial_log(marker)
    # Trials 0 and 1 finished before the crash in trial 2; the retry ran 3 more, none twice.
    assert trials == [0, 1, 2, 3, 4, 5]
    recorded = recorded_trials(app, run)
    assert {n: s for n, (s, _) in recorded.items()} == {
        0: "COMPLETE",
        1: "COMPLETE",
        2: "FAIL",
        3: "COMPLETE",
        4: "COMPLETE",
        5: "COMPLETE",
    }
    best = max((c, n) for n, (s, c) in recorded.items() if s == "COMPLETE")
    step_run = app.tracking.get_run(run.steps[0].run_id or "")
    assert float(step_run.params["best.c"]) == pytest.approx(best[0])
    # The best model is the best trial's: fitted again only if that trial finished before the crash.
    assert refits == ([best[1]] if best[1] < 2 else [])


def test_the_best_model_of_a_trial_before_the_crash_is_fitted_again_once(app: App, tmp_path: Path) -> None:
    marker = tmp_path / "trials.log"
    params = {"marker": str(marker), "early": True}  # trial 0 is the best
    run = app.pipelines.run(defs.crashing_search, params, started_by="ann")
    assert run.state is RunState.SUCCEEDED, run.error
    assert trial_log(marker) == ([0, 1, 2, 3, 4, 5], [0])
    assert run.steps[0].output_kind == "model"
    assert app.tracking.get_run(run.steps[0].run_id or "").metrics["best_value"].value == 0
    with closing(sqlite3.connect(app.db.engine.url.database or "")) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "trials" not in tables and "studies" not in tables  # Optuna stays out of our schema


def test_a_resumed_run_continues_the_study_of_its_failed_run(app: App, tmp_path: Path) -> None:
    marker = tmp_path / "trials.log"
    params = {"marker": str(marker), "crash_at": "2,4"}
    failed = app.pipelines.run(defs.crashing_search, params, started_by="ann")
    assert failed.state is RunState.FAILED  # crashed in trial 2, and again in trial 4 on the retry
    assert trial_log(marker)[0] == [0, 1, 2, 3, 4]
    resumed = app.pipelines.run(defs.crashing_search, params, started_by="ann", resume=failed.id)
    assert resumed.state is RunState.SUCCEEDED, resumed.error
    trials, _ = trial_log(marker)
    assert trials == [0, 1, 2, 3, 4, 5, 6]  # 0, 1 and 3 finished: two more make five
    again = app.pipelines.run(defs.crashing_search, params, started_by="ann", resume=resumed.id)
    assert {s.state for s in again.steps} == {RunState.CACHED}
    fresh = app.pipelines.run(defs.crashing_search, {**params, "crash_at": ""}, started_by="ann")
    assert fresh.state is RunState.SUCCEEDED  # another run (other inputs): a study of its own
    assert trial_log(marker)[0][7:] == [0, 1, 2, 3, 4]
