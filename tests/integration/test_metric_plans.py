"""The query plans behind a metric chart and a metric history, on SQLite and PostgreSQL.

Cutting a long history down for a chart (``tracking.curves``) and reading a whole history must read
the covering index ``metrics (run_id, key, step, timestamp, id, value)`` alone, never a table row
(SQLite's ``COVERING INDEX``, PostgreSQL's ``Index Only Scan``): the table lookups doubled what a
compare of 10 runs of 100,000 points cost. A whole history comes back in the index's order, with no
sort. ``EXPLAIN`` is read on a populated, analysed (and on PostgreSQL vacuumed) database, so a
change to the queries or the index that loses this fails here.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import insert
from sqlalchemy.sql import ClauseElement

import shipyard.tracking.tables as tables
from shipyard.storage.metadata.database import Database
from shipyard.tracking import curves
from support.databases import migrated_database, query_plan

RUNS, POINTS = 4, 20_000
BASE = 1_700_000_000_000
INDEX = "ix_metrics_covering"


def _populate(db: Database) -> str:
    rng = random.Random(5)
    experiment = {"id": "e" * 32, "name": "plans", "description": "", "created_at": BASE}
    runs = [
        {
            "id": f"r{i:031d}",
            "experiment_id": experiment["id"],
            "name": f"run-{i}",
            "status": "FINISHED",
            "start_time": BASE + i,
            "user": "u",
            "note": "",
            "command": "",
        }
        for i in range(RUNS)
    ]
    with db.write() as conn:
        conn.execute(insert(tables.ExperimentRow.__table__), [experiment])
        conn.execute(insert(tables.RunRow.__table__), runs)
        for run in runs:
            for key in ("loss", "acc"):
                conn.execute(
                    insert(tables.MetricRow.__table__),
                    [
                        {
                            "run_id": run["id"],
                            "key": key,
                            "value": rng.random(),
                            "step": s,
                            "timestamp": BASE + s,
                        }
                        for s in range(POINTS)
                    ],
                )
    # PostgreSQL reads only the index once the table's pages are marked all-visible (autovacuum
    # does it on a live server); VACUUM cannot run in a transaction.
    statement = "ANALYZE" if db.dialect == "sqlite" else "VACUUM ANALYZE metrics"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(statement)
    return str(runs[1]["id"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, str]]:
    with migrated_database(request.param, tmp_path_factory.mktemp("metric-plans")) as db:
        yield db, _populate(db)


def _plan(db: Database, query: ClauseElement) -> list[str]:
    return query_plan(db, query)


def _reads_of_metrics(db: Database, plan: list[str]) -> list[str]:
    """The plan's lines that read the metrics table or one of its indexes."""
    if db.dialect == "sqlite":
        return [line for line in plan if line.startswith(("SCAN m", "SEARCH m"))]  # m, metrics
    return [line for line in plan if " on metrics" in line]


def _assert_index_only(db: Database, plan: list[str]) -> None:
    reads = _reads_of_metrics(db, plan)
    assert reads, plan
    for line in reads:
        if db.dialect == "sqlite":
            assert f"USING COVERING INDEX {INDEX} " in line, "\n".join(plan)
        else:
            assert re.search(f"Index Only Scan (Backward )?using {INDEX} on metrics", line), "\n".join(plan)


def _sorts(db: Database, plan: list[str]) -> bool:
    if db.dialect == "sqlite":
        return any("TEMP B-TREE FOR" in line and "ORDER BY" in line for line in plan)
    return any(
        line.strip().removeprefix("->").strip().startswith(("Sort  (", "Incremental Sort")) for line in plan
    )


def test_cutting_a_history_down_reads_the_covering_index_alone(populated: tuple[Database, str]) -> None:
    db, run = populated
    plan = _plan(db, curves.downsample_query(run, "loss", 0, POINTS - 1, 1000))
    _assert_index_only(db, plan)
    # the two per-range probes and the lookup of the picked steps
    assert len(_reads_of_metrics(db, plan)) == 3, "\n".join(plan)


def test_a_historys_size_and_bounds_read_the_covering_index_alone(populated: tuple[Database, str]) -> None:
    db, run = populated
    _assert_index_only(db, _plan(db, curves.bounds_query(run, "loss", 1000)))


def test_a_whole_history_is_read_in_order_from_the_covering_index(populated: tuple[Database, str]) -> None:
    db, run = populated
    plan = _plan(db, curves.history_query(run, "loss"))
    _assert_index_only(db, plan)
    assert not _sorts(db, plan), "\n".join(plan)
