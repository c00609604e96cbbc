"""The web UI on a large experiment: 100,000 runs (10 params, 10 metrics each) and a compare of 10
runs with 100,000 points each (their curves downsampled in the database). Server time is measured
in process (Starlette's test client, no network), browser time with Playwright driving the system
Chromium.

The runs are seeded in bulk, as the rows the SDK would store (checked against one run logged
through the SDK): logging 100,000 runs call by call took over half an hour.
``SHIPYARD_BENCH_UI_RUNS`` sets the run count (default 100,000). With
``SHIPYARD_BENCH_POSTGRES_URL`` (else ``SHIPYARD_TEST_POSTGRES_URL``) set, the same is measured on
PostgreSQL too, in a database created for the run and dropped after."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert, select

import shipyard.tracking.tables as tables
from bench_rest_writes import _postgres
from common import Result, embedded_client
from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.core.ids import new_id
from shipyard.migrations import runner
from shipyard.storage.metadata.base import Base
from shipyard.storage.metadata.database import Database
from shipyard.tracking import service, validation
from shipyard.tracking.model import RunStatus

RUNS = int(os.environ.get("SHIPYARD_BENCH_UI_RUNS", "100000"))
PARAMS = METRICS = 10
COMPARED, POINTS, CHUNK = 10, 100_000, 50_000
BULK = 5_000  # runs per seeding transaction
REPEAT = 5
USER = "bench"
#: What each run is made of, per table, as the SDK stores it (run ids and names aside).
SEEDED = (tables.RunRow, tables.ParamRow, tables.MetricRow, tables.LatestMetricRow, tables.TagRow)


def _inputs(rng: random.Random, now: int) -> tuple[dict[str, object], list[tuple[str, float, int, int]]]:
    params: dict[str, object] = {f"p{k}": rng.randint(0, 100) for k in range(PARAMS)}
    return params, [(f"m{k}", rng.random(), 0, now) for k in range(METRICS)]


def _rows(
    run_id: str,
    experiment_id: str,
    name: str,
    start_time: int,
    params: dict[str, object],
    points: list[tuple[str, float, int, int]],
) -> dict[type[Base], list[dict[str, object]]]:
    """The rows ``create_run``, ``log_params`` and ``log_metrics`` store for one run, built with the
    service's own validation."""
    stored, latest = validation.metric_batch(points)
    return {
        tables.RunRow: [
            {
                "id": run_id,
                "experiment_id": experiment_id,
                "name": name,
                "status": RunStatus.RUNNING.value,
                "start_time": start_time,
                "user": USER,
                "note": "",
                "command": "",
            }
        ],
        tables.ParamRow: [
            {"run_id": run_id, "key": k, "value": v, "value_num": service._number(v)}
            for k, v in validation.params(params).items()
        ],
        tables.MetricRow: [
            {"run_id": run_id, "key": k, "value": v, "step": s, "timestamp": t} for k, v, s, t in stored
        ],
        tables.LatestMetricRow: [
            {"run_id": run_id, "key": k, "value": v, "step": s, "timestamp": t}
            for k, (s, t, v) in latest.items()
        ],
        tables.TagRow: [],
    }


def _stored(conn: Connection, run_id: str) -> dict[str, list[tuple[object, ...]]]:
    """A run's rows in every seeded table, without what differs between runs (ids, name, time)."""
    out = {}
    for row in SEEDED:
        t = row.__table__
        cols = [c for c in t.c if c.name not in ("id", "run_id", "name", "start_time")]
        owner = t.c.id if row is tables.RunRow else t.c.run_id
        out[t.name] = sorted(tuple(r) for r in conn.execute(select(*cols).where(owner == run_id)))
    return out


def _seed(app: App) -> None:
    """``RUNS`` runs of 10 params and 10 metrics: the first through the SDK, the others inserted in
    bulk (``BULK`` runs a transaction) as the same rows the SDK stores, checked against the first."""
    t = app.tracking
    rng = random.Random(11)
    experiment = t.create_experiment("scale")
    now = time.time_ns() // 1_000_000
    params, points = _inputs(rng, now)
    first = t.create_run("scale", name="run-0", user=USER)
    t.log_params(first.id, params)
    t.log_metrics(first.id, points)
    twin = new_id()  # the first run again, in bulk: both must be stored alike
    batch = [_rows(twin, experiment.id, "run-1", now + 1, params, points)]
    for i in range(2, RUNS):
        batch.append(_rows(new_id(), experiment.id, f"run-{i}", now + i, *_inputs(rng, now)))
        if len(batch) == BULK or i == RUNS - 1:
            with app.db.write() as conn:
                for row in SEEDED:
                    if rows := [r for run in batch for r in run[row]]:
                        conn.execute(insert(row.__table__), rows)
                if twin:
                    assert _stored(conn, twin) == _stored(conn, first.id), "bulk rows differ from the SDK's"
                    twin = ""
            batch = []


def _timed(client: TestClient, path: str) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


def run() -> list[Result]:
    results = []
    with embedded_client() as client:
        results += _measure("SQLite", client._local_app("the UI benchmark"))
    with _postgres() as url, tempfile.TemporaryDirectory(prefix="shipyard-bench-") as home:
        if url is not None:
            db = Database(url)
            runner.upgrade(db)
            db.dispose()
            app = build_app(load_settings(home=Path(home), db_url=url, artifacts=f"{home}/artifacts"))
            try:
                results += _measure("PostgreSQL", app)
            finally:
                app.close()
    return results


def _measure(label: str, app: App) -> list[Result]:
    from playwright.sync_api import sync_playwright

    from shipyard.server import create_app

    results = []
    started = time.perf_counter()
    _seed(app)
    seeded = time.perf_counter() - started
    compared = []
    for i in range(COMPARED):
        run = app.tracking.create_run("scale", name=f"long-{i}", user=USER)
        for start in range(0, POINTS, CHUNK):  # one call takes at most max_metric_points
            app.tracking.log_metrics(
                run.id,
                [("loss", 1 / (s + 1) + i / 100, s, 1_000_000 + s) for s in range(start, start + CHUNK)],
            )
        compared.append(run.id)
    if app.db.dialect == "postgresql":  # what autovacuum does on a live server after such a load
        with app.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    app.accounts.create_user(USER, role="viewer")
    token = app.accounts.create_token(USER).secret
    experiment = app.tracking.get_experiment("scale").id
    load = os.getloadavg()[0]  # once seeded, as the pages are measured
    note = f"{RUNS:,} runs seeded in {seeded:.0f} s; load average {load:.1f} on {os.cpu_count()} CPUs"
    base = f"/ui/experiments/{experiment}"
    compare = "/ui/compare?" + "&".join(f"run={r}" for r in compared)
    pages = [
        ("UI runs page, first screen", base, 200),
        ("UI runs page sorted by a metric", f"{base}?order_by=metrics.m3+DESC", 300),
        ("UI runs page filtered by a metric", f"{base}?filter=metrics.m5+%3E+0.99", 300),
        ("UI compare 10 runs x 100,000 points", compare, 1000),
    ]
    with TestClient(create_app(app), base_url="http://bench", cookies={"shipyard_token": token}) as http:
        for name, path, target in pages:
            results.append(Result(f"{name} ({label}, server)", _timed(http, path), "ms", target, note))
    results += _browser_compare(app, token, compare, sync_playwright, label, note)
    return results


def _browser_compare(
    app: object, token: str, path: str, playwright: object, label: str, note: str
) -> list[Result]:
    """The compare page in Chromium until its chart holds all 10 curves: on a first visit, and
    (the median) as a returning user, whose browser holds plotly.js compiled."""
    import socket

    import uvicorn

    from shipyard.server import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(app), log_level="warning", lifespan="off"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with playwright() as p:  # type: ignore[operator]
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
            )
            context = browser.new_context()
            context.add_cookies(
                [{"name": "shipyard_token", "value": token, "url": f"http://127.0.0.1:{port}"}]
            )
            page = context.new_page()

            def drawn() -> float:
                started = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.wait_for_function("(document.querySelector('.metric-chart')||{}).data?.length === 10")
                return (time.perf_counter() - started) * 1000

            first = drawn()  # plotly.js (4.8 MB) downloaded and compiled from scratch
            drawn()  # Chromium keeps a script's compiled code once it has run it twice
            times = [drawn() for _ in range(REPEAT)]  # a returning user: the page's own cost
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    name = f"UI compare 10 x 100,000 points, load to drawn ({label}, Chromium)"
    return [
        Result(name, statistics.median(times), "ms", 1000, note),
        Result(f"{name}, first visit", first, "ms", note=f"plotly.js not cached yet; {note}"),
    ]
