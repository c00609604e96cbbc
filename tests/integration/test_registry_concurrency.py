"""Concurrent promotions from separate processes leave exactly one production version, on SQLite
(BEGIN IMMEDIATE serializes writers) and on PostgreSQL (the model row is locked FOR UPDATE); and
the registry's core use cases run the same on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import sys
from pathlib import Path

import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.registry.entities import Stage
from support.databases import fresh_postgres_database
from support.registry_models import churn_data, register

WORKERS = 4


def _promote(settings: dict[str, str], version: int, start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    app = build_app(load_settings(**settings), migrate=False)
    app.db.engine.connect().close()  # connect before the start signal, so the race is on the lock
    start.wait(60)
    app.registry.transition("churn", version, "production", actor=f"worker{version}")
    app.close()


def _app(settings: dict[str, str]) -> App:
    app = build_app(load_settings(**settings), migrate=False)
    runner.upgrade(app.db)
    return app


@pytest.fixture(autouse=True)
def _clean_sys_path(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Spawned children start with the parent's sys.path: leave out folders earlier tests put there
    (a feature repo folder holding a ``json.py`` would shadow the standard library in a child)."""
    base = str(tmp_path_factory.getbasetemp().parent)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if not p.startswith(base)])


def _race(settings: dict[str, str], tmp_path: Path) -> None:
    app = _app(settings)
    versions = [register(app, tmp_path).version for _ in range(WORKERS)]
    for v in versions:
        app.registry.transition("churn", v, "staging", actor="alice")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_promote, args=(settings, v, start)) for v in versions]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    final = {v.version: v.stage for v in app.registry.list_versions("churn")}
    assert list(final.values()).count(Stage.PRODUCTION) == 1
    assert list(final.values()).count(Stage.ARCHIVED) == WORKERS - 1
    # Every promotion but the first archived exactly the version promoted just before it.
    promoted = [t for t in app.registry.history("churn") if t.to_stage is Stage.PRODUCTION]
    archived = [t for t in app.registry.history("churn") if t.to_stage is Stage.ARCHIVED]
    assert [t.version for t in archived] == [t.version for t in promoted[:-1]]
    app.close()


@pytest.mark.slow
def test_concurrent_promotions_on_sqlite(tmp_path: Path) -> None:
    _race({"home": str(tmp_path), "artifacts": str(tmp_path / "artifacts")}, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_promotions_on_postgres(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        _race({"home": str(tmp_path), "db_url": url, "artifacts": str(tmp_path / "artifacts")}, tmp_path)


@pytest.mark.postgres
def test_lifecycle_aliases_rollback_and_audit_on_postgres(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        app = _app({"home": str(tmp_path), "db_url": url, "artifacts": str(tmp_path / "artifacts")})
        for _ in range(2):
            register(app, tmp_path)
        for v in (1, 2):
            app.registry.transition("churn", v, "staging", actor="alice")
            app.registry.transition("churn", v, "production", actor="dave")
        app.registry.set_alias("churn", "champion", 2, actor="dave")
        assert app.registry.rollback("churn", actor="dave").aliases == ("champion",)
        assert app.registry.resolve("churn@production").version == 1
        assert app.registry.load("churn@champion").predict(churn_data()[1].head(3)).shape == (3,)
        assert app.audit.verify().valid
        assert "model.rollback" in {r.action for r in app.audit.list(model="churn", limit=1000)}
        app.close()
