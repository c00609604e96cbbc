"""The web UI on a large experiment: 100,000 runs (10 params, 10 metrics each) and a compare of 10
runs with 100,000 points each (their curves downsampled in the database). Server time is measured in process (Starlette's test client, no network), browser
time with Playwright driving the system Chromium.

``SHIPYARD_BENCH_UI_RUNS`` sets the run count (default 100,000; seeding them takes minutes)."""

from __future__ import annotations

import os
import random
import statistics
import threading
import time

from fastapi.testclient import TestClient

from common import Result, embedded_client

RUNS = int(os.environ.get("SHIPYARD_BENCH_UI_RUNS", "100000"))
COMPARED, POINTS, CHUNK = 10, 100_000, 50_000
REPEAT = 5
USER = "bench"


def _seed(tracking: object) -> None:
    t = tracking  # type: ignore[assignment]
    rng = random.Random(11)
    t.create_experiment("scale")  # type: ignore[attr-defined]
    now = time.time_ns() // 1_000_000
    for i in range(RUNS):
        run = t.create_run("scale", name=f"run-{i}", user=USER)  # type: ignore[attr-defined]
        t.log_params(run.id, {f"p{k}": rng.randint(0, 100) for k in range(10)})  # type: ignore[attr-defined]
        t.log_metrics(run.id, [(f"m{k}", rng.random(), 0, now) for k in range(10)])  # type: ignore[attr-defined]


def _timed(client: TestClient, path: str) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


def run() -> list[Result]:
    from playwright.sync_api import sync_playwright

    from shipyard.server import create_app

    load = os.getloadavg()[0]
    results = []
    with embedded_client() as client:
        app = client._local_app("the UI benchmark")
        started = time.perf_counter()
        _seed(app.tracking)
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
        app.accounts.create_user(USER, role="viewer")
        token = app.accounts.create_token(USER).secret
        experiment = app.tracking.get_experiment("scale").id
        api = create_app(app)
        with TestClient(api, base_url="http://bench", cookies={"shipyard_token": token}) as http:
            base = f"/ui/experiments/{experiment}"
            note = f"{RUNS:,} runs seeded in {seeded:.0f} s; load average {load:.1f} on {os.cpu_count()} CPUs"
            results.append(Result("UI runs page, first screen (server)", _timed(http, base), "ms", 200, note))
            results.append(
                Result(
                    "UI runs page sorted by a metric (server)",
                    _timed(http, f"{base}?order_by=metrics.m3+DESC"),
                    "ms",
                    300,
                    note,
                )
            )
            results.append(
                Result(
                    "UI runs page filtered by a metric (server)",
                    _timed(http, f"{base}?filter=metrics.m5+%3E+0.99"),
                    "ms",
                    300,
                    note,
                )
            )
            compare = "/ui/compare?" + "&".join(f"run={r}" for r in compared)
            results.append(
                Result(
                    "UI compare 10 runs x 100,000 points (server)", _timed(http, compare), "ms", 1000, note
                )
            )
        results.append(_browser_compare(app, token, compare, sync_playwright, note))
    return results


def _browser_compare(app: object, token: str, path: str, playwright: object, note: str) -> Result:
    """The compare page in Chromium until its chart holds all 10 curves."""
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
            page.goto(f"http://127.0.0.1:{port}/ui")  # warm: plotly.js cached, as for a returning user
            times = []
            for _ in range(3):
                started = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.wait_for_function("(document.querySelector('.metric-chart')||{}).data?.length === 10")
                times.append((time.perf_counter() - started) * 1000)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    return Result(
        "UI compare 10 x 100,000 points, load to drawn (Chromium)", statistics.median(times), "ms", 1000, note
    )
