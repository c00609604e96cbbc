"""One migration head; upgrading an empty database yields exactly the tables the code declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, text

import shipyard.tracking.tables as tables
from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.errors import ConfigError
from shipyard.migrations import runner
from shipyard.migrations.schema import target_metadata
from shipyard.storage.metadata.database import Database
from support.databases import empty_database, fresh_postgres_database


def test_single_head() -> None:
    assert len(ScriptDirectory.from_config(runner.alembic_config()).get_heads()) == 1


def _assert_matches_models(db: Database) -> None:
    runner.upgrade(db)
    assert runner.current(db) == runner.head()
    with db.read() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), target_metadata()
        )
    assert diff == []


def test_upgrade_from_empty_matches_models_on_sqlite(tmp_path: Path) -> None:
    _assert_matches_models(Database(f"sqlite:///{tmp_path}/m.db"))


@pytest.mark.postgres
def test_upgrade_from_empty_matches_models_on_postgres() -> None:
    with fresh_postgres_database() as url:
        db = Database(url)
        _assert_matches_models(db)
        runner.downgrade(db, "base")
        assert runner.current(db) is None
        db.dispose()


def test_embedded_database_upgrades_itself(tmp_path: Path) -> None:
    app = build_app(load_settings(home=tmp_path / "fresh"))
    assert runner.current(app.db) == runner.head()
    assert app.db.engine.url.database == str(tmp_path / "fresh" / "shipyard.db")
    app.close()


@pytest.mark.postgres
def test_server_database_asks_for_an_explicit_upgrade(tmp_path: Path) -> None:
    with fresh_postgres_database() as url, pytest.raises(ConfigError, match="shipyard db upgrade"):
        build_app(load_settings(home=tmp_path, db_url=url))


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/w.db")
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_bad_database_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="database URL"):
        Database("not a url")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database, no migration run yet, on each backend."""
    with empty_database(request.param, tmp_path) as db:
        yield db


def _metrics_indexes(db: Database) -> set[str]:
    with db.read() as conn:
        return {i["name"] for i in inspect(conn).get_indexes("metrics") if i["name"]}


def test_the_covering_metrics_index_replaces_its_prefix_and_back(empty_db: Database) -> None:
    """0013 swaps ``metrics (run_id, key, step)`` for the covering index and back, points kept."""
    db = empty_db
    runner.upgrade(db, "0012_pipelines_resume")
    with db.write() as conn:  # 0012's tables are today's: the models' tables can fill them
        conn.execute(insert(tables.ExperimentRow.__table__), [{"id": "e", "name": "e", "created_at": 0}])
        conn.execute(
            insert(tables.RunRow.__table__),
            [
                {
                    "id": "r",
                    "experiment_id": "e",
                    "name": "r",
                    "status": "FINISHED",
                    "start_time": 0,
                    "user": "u",
                }
            ],
        )
        conn.execute(
            insert(tables.MetricRow.__table__),
            [{"run_id": "r", "key": "loss", "value": 0.5, "step": 3, "timestamp": 7}],
        )
    assert _metrics_indexes(db) == {"ix_metrics_run_key_step"}
    runner.upgrade(db)
    assert _metrics_indexes(db) == {"ix_metrics_covering"}
    runner.downgrade(db, "0012_pipelines_resume")
    assert _metrics_indexes(db) == {"ix_metrics_run_key_step"}
    runner.upgrade(db)
    with db.read() as conn:
        assert conn.execute(text("SELECT run_id, key, value, step, timestamp FROM metrics")).all() == [
            ("r", "loss", 0.5, 3, 7)
        ]


def _metrics_shape(db: Database) -> tuple[list[str], list[str]]:
    """The ``metrics`` columns, and the covering index's columns."""
    with db.read() as conn:
        found = inspect(conn)
        columns = [c["name"] for c in found.get_columns("metrics")]
        (index,) = [i for i in found.get_indexes("metrics") if i["name"] == "ix_metrics_covering"]
        return columns, list(index["column_names"])


def test_metric_points_lose_their_id_and_get_one_back_on_downgrade(empty_db: Database) -> None:
    """0015 drops ``metrics.id`` and rebuilds the covering index without it, every point kept; the
    downgrade numbers the points again."""
    points = [("r", "loss", 0.5, 3, 7), ("r", "loss", 0.25, 3, 7), ("r", "acc", None, 1, 2)]
    db = empty_db
    runner.upgrade(db, "0014_metrics_without_run_fk")
    with db.write() as conn:
        conn.execute(
            text("INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (:r, :k, :v, :s, :t)"),
            [dict(zip("rkvst", p, strict=True)) for p in points],
        )
    assert _metrics_shape(db) == (
        ["id", "run_id", "key", "value", "step", "timestamp"],
        ["run_id", "key", "step", "timestamp", "id", "value"],
    )
    runner.upgrade(db)
    columns, index = _metrics_shape(db)
    assert sorted(columns) == ["key", "run_id", "step", "timestamp", "value"]
    assert index == ["run_id", "key", "step", "timestamp", "value"]
    select_points = text("SELECT run_id, key, value, step, timestamp FROM metrics")
    with db.read() as conn:
        assert sorted(conn.execute(select_points).all(), key=str) == sorted(points, key=str)
    runner.downgrade(db, "0014_metrics_without_run_fk")
    columns, index = _metrics_shape(db)
    assert "id" in columns and index == ["run_id", "key", "step", "timestamp", "id", "value"]
    with db.write() as conn:
        ids = conn.execute(text("SELECT id FROM metrics")).scalars().all()
        assert len(set(ids)) == len(points) and None not in ids
        # new points are numbered too
        conn.execute(
            text("INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES ('r', 'x', 1, 1, 1)")
        )
    runner.upgrade(db)
    with db.read() as conn:
        assert len(conn.execute(select_points).all()) == len(points) + 1
