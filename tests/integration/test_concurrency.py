"""No metric point is lost when several processes log into one run at once."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from shipyard.app import build_app
from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.migrations import runner
from support.databases import fresh_postgres_database

WORKERS = 4
POINTS = 10_000


def _worker(settings: dict[str, str], run_id: str, worker: int) -> None:
    # Small flushes so the workers' transactions interleave many times.
    client = Client(load_settings(**settings, metric_flush_size=500))
    run = client.resume_run(run_id)
    for i in range(POINTS):
        run.log_metric("loss", 1.0 / (i + 1), step=i * WORKERS + worker)
        if i % 4 == 0:
            run.log_metric(f"worker{worker}", float(i), step=i)
    run.flush()
    client._forget(run)  # the parent ends the run
    client.close()


def _log_concurrently(settings: dict[str, str]) -> None:
    app = build_app(load_settings(**settings), migrate=False)
    runner.upgrade(app.db)
    app.tracking.create_experiment("concurrency")
    run_id = app.tracking.create_run("concurrency", user="ci").id
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(settings, run_id, w)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * WORKERS

    history = app.tracking.metric_history(run_id, "loss")
    assert len(history) == WORKERS * POINTS
    assert sorted(m.step for m in history) == list(range(WORKERS * POINTS))
    run = app.tracking.get_run(run_id)
    assert run.metrics["loss"].step == WORKERS * POINTS - 1
    for w in range(WORKERS):
        assert len(app.tracking.metric_history(run_id, f"worker{w}")) == POINTS // 4
    app.close()


@pytest.mark.slow
def test_four_processes_lose_nothing_on_sqlite(tmp_path: Path) -> None:
    _log_concurrently({"home": str(tmp_path), "artifacts": str(tmp_path / "artifacts")})


@pytest.mark.slow
@pytest.mark.postgres
def test_four_processes_lose_nothing_on_postgres(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        _log_concurrently({"home": str(tmp_path), "db_url": url, "artifacts": str(tmp_path / "artifacts")})


def _log_in_forked_child(client: Client, run_id: str) -> None:
    run = client.resume_run(run_id)
    for i in range(300):
        run.log_metric("child", float(i), step=i)
        run.flush()  # one transaction per point: many round trips on the connection


@pytest.mark.postgres
def test_forked_children_do_not_share_the_parents_connections(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        settings = load_settings(home=tmp_path, db_url=url)
        app = build_app(settings, migrate=False)
        runner.upgrade(app.db)
        app.close()
        client = Client(settings)
        run = client.start_run("fork")
        run.log_metric("parent", 0.0)
        run.flush()  # the parent's pool now holds an open connection
        ctx = mp.get_context("fork")
        children = [ctx.Process(target=_log_in_forked_child, args=(client, run.id)) for _ in range(2)]
        for child in children:
            child.start()
        for i in range(300):  # the parent keeps using its own connection meanwhile
            run.log_metric("parent", float(i), step=i)
            run.flush()
        for child in children:
            child.join(timeout=120)
        assert [c.exitcode for c in children] == [0, 0]
        run.end()
        assert len(client.tracking.metric_history(run.id, "child")) == 600
        assert len(client.tracking.metric_history(run.id, "parent")) == 301
        client.close()
