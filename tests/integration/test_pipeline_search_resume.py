"""Search studies on PostgreSQL (in their own schema of the metadata database) and a worker
process killed mid-search: the step's retry continues the study."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.pipelines import studies
from shipyard.pipelines.model import RunState
from support import pipeline_defs as defs
from support.databases import fresh_postgres_database


def _app(tmp_path: Path, **settings: object) -> App:
    app = build_app(
        load_settings(home=tmp_path / "home", artifacts=str(tmp_path / "artifacts"), **settings),
        migrate=False,
    )
    runner.upgrade(app.db)
    return app


def _trials(marker: Path) -> list[int]:
    return [int(x) for x in marker.read_text().splitlines() if not x.startswith("refit")]


@pytest.mark.postgres
def test_postgres_keeps_studies_in_their_own_schema_and_resumes_them(tmp_path: Path) -> None:
    marker = tmp_path / "trials.log"
    params = {"marker": str(marker), "crash_at": "2,4"}
    with fresh_postgres_database() as url:
        app = _app(tmp_path, db_url=url)
        try:
            failed = app.pipelines.run(defs.crashing_search, params, started_by="ann")
            assert failed.state is RunState.FAILED
            resumed = app.pipelines.run(defs.crashing_search, params, started_by="ann", resume=failed.id)
            assert resumed.state is RunState.SUCCEEDED, resumed.error
            assert _trials(marker) == [0, 1, 2, 3, 4, 5, 6]
        finally:
            app.close()
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            where = (
                conn.execute(
                    text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'trials'")
                )
                .scalars()
                .all()
            )
            states = conn.execute(
                text(f"SELECT state, count(*) FROM {studies.SCHEMA}.trials GROUP BY state ORDER BY state")
            ).all()
        engine.dispose()
        assert where == [studies.SCHEMA]  # not in the metadata tables' schema
        assert [tuple(r) for r in states] == [("COMPLETE", 5), ("FAIL", 2)]


@pytest.mark.slow
def test_a_killed_worker_process_leaves_a_study_its_retry_continues(tmp_path: Path) -> None:
    marker = tmp_path / "trials.log"
    app = _app(tmp_path, executor="process")
    try:
        params = {"marker": str(marker), "how": "exit"}  # the worker process exits in trial 2
        run = app.pipelines.run(defs.crashing_search, params, started_by="ann")
        assert run.state is RunState.SUCCEEDED, run.error
        assert run.steps[0].attempt == 2
        assert _trials(marker) == [0, 1, 2, 3, 4, 5]
        stderr = app.pipelines.logs(run.id)["tune_until_crash"][1]
        assert "attempt 1 failed" in stderr
    finally:
        app.close()
