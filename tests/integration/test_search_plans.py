"""The query plans behind the first page of a search over many runs, on SQLite and PostgreSQL.

A filtered page ordered by a metric must walk the ``latest_metrics (key, value, run_id)`` index and
stop at the page's end, never sort every matching run; the default ordering within an experiment
reads runs newest first from an index
(``runs (experiment_id, start_time)`` or ``runs (start_time)``). ``EXPLAIN`` is read on a populated, analysed database, so
a change to the query shapes or the indexes that loses this fails here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import insert

import shipyard.tracking.tables as tables
from shipyard.storage.metadata.database import Database
from shipyard.tracking.search import build_search
from support.databases import migrated_database, query_plan

RUNS = 20_000
BASE = 1_700_000_000_000


def _populate(db: Database) -> str:
    rng = random.Random(3)
    experiments, runs, latest = [], [], []
    for e in range(4):
        experiments.append({"id": f"e{e:031d}", "name": f"exp-{e}", "description": "", "created_at": BASE})
    for i in range(RUNS):
        run_id = f"r{i:031d}"
        runs.append(
            {
                "id": run_id,
                "experiment_id": f"e{i % 4:031d}",
                "name": f"run-{i}",
                "status": "FINISHED",
                "start_time": BASE + i,
                "user": "u",
                "note": "",
                "command": "",
            }
        )
        for key in ("auc", "loss", "m2"):
            latest.append({"run_id": run_id, "key": key, "value": rng.random(), "step": 0, "timestamp": BASE})
    with db.write() as conn:
        conn.execute(insert(tables.ExperimentRow.__table__), experiments)
        conn.execute(insert(tables.RunRow.__table__), runs)
        conn.execute(insert(tables.LatestMetricRow.__table__), latest)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return experiments[0]["id"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, str]]:
    with migrated_database(request.param, tmp_path_factory.mktemp("plans")) as db:
        yield db, _populate(db)


def _plan(db: Database, experiment: str, filter: str, order_by: list[str]) -> str:
    return "\n".join(query_plan(db, build_search([experiment], filter, order_by, 100)))


def _sorts_everything(db: Database, plan: str) -> bool:
    if db.dialect == "sqlite":
        return "USE TEMP B-TREE FOR ORDER BY" in plan
    # A plain Sort node; an Incremental Sort over an index's order only orders ties.
    return any(line.strip().removeprefix("->").strip().startswith("Sort  (") for line in plan.splitlines())


def test_a_page_ordered_by_a_filtered_metric_walks_its_index(populated: tuple[Database, str]) -> None:
    db, experiment = populated
    for direction, op in (("DESC", "> 0.5"), ("ASC", "< 0.5")):
        plan = _plan(db, experiment, f"metrics.auc {op}", [f"metrics.auc {direction}"])
        assert "ix_latest_metrics_key_value_run" in plan, plan
        assert not _sorts_everything(db, plan), plan


def test_other_filter_terms_keep_the_index_walk(populated: tuple[Database, str]) -> None:
    db, experiment = populated
    plan = _plan(db, experiment, "metrics.auc > 0.2 and metrics.loss < 0.9", ["metrics.auc DESC"])
    assert "ix_latest_metrics_key_value_run" in plan, plan
    assert not _sorts_everything(db, plan), plan


def test_the_default_ordering_reads_the_experiments_runs_newest_first(
    populated: tuple[Database, str],
) -> None:
    db, experiment = populated
    plan = _plan(db, experiment, "", [])
    # (experiment_id, start_time), or start_time alone when the experiment holds many of the runs
    assert "ix_runs_experiment_start" in plan or "ix_runs_start_time" in plan, plan
    assert not _sorts_everything(db, plan), plan


def test_a_page_ordered_by_a_metric_alone_joins_its_values_once(populated: tuple[Database, str]) -> None:
    """Ordered by a metric the filter does not compare, every run of the experiment is ranked: the
    metric's values are joined in one pass, not looked up once per run (three times slower on
    PostgreSQL over 100,000 runs)."""
    db, experiment = populated
    for filter in ("", "parent_id IS NULL", "status = 'FINISHED'"):
        plan = _plan(db, experiment, filter, ["metrics.auc DESC"])
        if db.dialect == "sqlite":
            assert "CORRELATED SCALAR SUBQUERY" not in plan, plan
        else:
            assert "SubPlan" not in plan, plan
