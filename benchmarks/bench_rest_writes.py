"""REST writes under load: 8 clients alternate a 1-point and a 100-point metric batch for 20 s
against ``shipyard server`` (default settings) on SQLite and on PostgreSQL
(``SHIPYARD_BENCH_POSTGRES_URL``, else ``SHIPYARD_TEST_POSTGRES_URL``; a fresh database is created
and dropped). Every acknowledged point is read back. With ``.venv-mlflow`` present
(``make bench-mlflow``), MLflow's server runs the same load on SQLite (``mlflow_rest.py``).
``SHIPYARD_BENCH_SECONDS`` shortens the load."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from common import Result
from rest_load import points_body, run_load
from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.storage.metadata.database import Database
from shipyard.tracking.tables import MetricRow

HERE = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("SHIPYARD_BENCH_SECONDS", "20"))
THREADS = 8
MLFLOW_PYTHON = Path(
    os.environ.get("SHIPYARD_MLFLOW_PYTHON", HERE.parent / ".venv-mlflow" / "bin" / "python")
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _postgres() -> Iterator[str | None]:
    url = os.environ.get("SHIPYARD_BENCH_POSTGRES_URL") or os.environ.get("SHIPYARD_TEST_POSTGRES_URL")
    if not url:
        yield None
        return
    server = make_url(Database(url).engine.url)
    name = f"shipyard_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _migrated_postgres() -> Iterator[str | None]:
    """:func:`_postgres`, upgraded to the current revision (None when no URL is set)."""
    with _postgres() as url:
        if url is not None:
            db = Database(url)
            runner.upgrade(db)
            db.engine.dispose()
        yield url


def _shipyard(label: str, db_url: str, home: Path) -> list[Result]:
    home.mkdir(parents=True, exist_ok=True)
    db = Database(db_url)
    runner.upgrade(db)
    db.engine.dispose()
    settings = load_settings(home=home, db_url=db_url, artifacts=str(home / "artifacts"))
    app = build_app(settings)
    app.accounts.create_user("bench", role="admin")
    secret = app.accounts.create_token("bench").secret
    app.tracking.create_experiment("rest-load")
    runs = [app.tracking.create_run("rest-load", name=f"client-{i}").id for i in range(THREADS)]
    app.close()
    port = _free_port()
    env = {**os.environ, "SHIPYARD_HOME": str(home), "SHIPYARD_DB_URL": db_url}
    env["SHIPYARD_ARTIFACTS"] = str(home / "artifacts")
    server = subprocess.Popen(
        [sys.executable, "-c", "from shipyard.cli.main import main; main()", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", server)
        now = int(time.time() * 1000)
        steps = [0] * THREADS

        def request(index: int, n: int) -> tuple[str, bytes, int]:
            size = 1 if n % 2 == 0 else 100
            body = points_body("loss", steps[index], size, now)
            steps[index] += size
            return f"/api/v1/runs/{runs[index]}/metrics", body, size

        stats = run_load(
            "127.0.0.1",
            port,
            request,
            headers={"Authorization": f"Bearer {secret}"},
            health_path="/health",
            threads=THREADS,
            duration=SECONDS,
        )
    finally:
        server.terminate()
        server.wait(30)
    db = Database(db_url)
    with db.read() as conn:
        stored = dict(
            conn.execute(
                select(MetricRow.run_id, func.count())
                .where(MetricRow.run_id.in_(runs))
                .group_by(MetricRow.run_id)
            ).all()
        )
    db.engine.dispose()
    lost = sum(max(0, stats.acknowledged.get(i, 0) - stored.get(r, 0)) for i, r in enumerate(runs))
    return _results(f"Shipyard, {label}", stats.summary(), lost)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _results(label: str, s: dict[str, float], lost: int) -> list[Result]:
    note = f"load average {s['load_average']:.1f} on {os.cpu_count()} CPUs; {int(s['errors'])} errors; {lost} lost"
    return [
        Result(
            f"REST writes, {label}: requests/s", s["requests_per_s"], "req/s", 1500, note=note, higher=True
        ),
        Result(f"REST writes, {label}: points/s", s["points_per_s"], "points/s", 75_000, higher=True),
        Result(f"REST writes, {label}: p50", s["p50_ms"], "ms"),
        Result(f"REST writes, {label}: p99", s["p99_ms"], "ms", 50),
        Result(f"REST writes, {label}: points lost", lost, "points", 0),
        Result(f"REST writes, {label}: /health p99 under load", s["health_p99_ms"], "ms", 50),
    ]


def _mlflow() -> list[Result]:
    if not MLFLOW_PYTHON.exists():
        return [Result("REST writes, MLflow: not run (no .venv-mlflow; make bench-mlflow)", 0, "req/s")]
    done = subprocess.run(
        [str(MLFLOW_PYTHON), str(HERE / "mlflow_rest.py"), str(SECONDS), str(THREADS)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return _results("MLflow, SQLite", report, int(report["lost"]))


def run() -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-rest-") as tmp:
        home = Path(tmp) / "sqlite"
        results += _shipyard("SQLite", f"sqlite:///{home / 'shipyard.db'}", home)
        with _postgres() as url:
            if url is not None:
                results += _shipyard("PostgreSQL", url, Path(tmp) / "postgres")
    results += _mlflow()
    return results
