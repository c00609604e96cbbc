"""The server SIGKILLed in the middle of a write load loses no acknowledged metric point, on
SQLite and PostgreSQL: a point is acknowledged only once the group transaction holding it has
committed. The server is a real ``shipyard server`` process; the clients are real HTTP clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.storage.metadata.database import Database
from shipyard.tracking.tables import MetricRow
from support.databases import fresh_postgres_database

CLIENTS = 6
KILL_AFTER = 120  # acknowledged requests before the kill
NOW = 1_700_000_000_000


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigkill_mid_load_loses_no_acknowledged_point(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    runner.upgrade(db)
    db.engine.dispose()
    settings = load_settings(home=tmp_path / "home", db_url=db_url, artifacts=str(tmp_path / "artifacts"))
    app = build_app(settings)
    app.accounts.create_user("writer", role="admin")
    secret = app.accounts.create_token("writer").secret
    app.tracking.create_experiment("kill")
    runs = [app.tracking.create_run("kill", name=f"client-{i}").id for i in range(CLIENTS)]
    app.close()

    port = _free_port()
    env = {**os.environ, "SHIPYARD_HOME": str(tmp_path / "home"), "SHIPYARD_DB_URL": db_url}
    env["SHIPYARD_ARTIFACTS"] = str(tmp_path / "artifacts")
    server = subprocess.Popen(
        [sys.executable, "-c", "from shipyard.cli.main import main; main()", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)

        acknowledged: dict[str, set[int]] = {r: set() for r in runs}
        count = [0]
        lock = threading.Lock()
        killed = threading.Event()

        def client(run_id: str) -> None:
            headers = {"Authorization": f"Bearer {secret}"}
            step = 0
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
                while not killed.is_set():
                    size = 1 if step % 2 == 0 else 50
                    points = [["loss", 0.5, step + i, NOW + step + i] for i in range(size)]
                    try:
                        response = http.post(
                            f"/api/v1/runs/{run_id}/metrics",
                            json={"points": points, "batch_id": f"{run_id}-{step}"},
                        )
                    except httpx.TransportError:
                        return  # the server is gone: this request was never acknowledged
                    assert response.status_code == 200, response.text
                    with lock:
                        acknowledged[run_id].update(range(step, step + size))
                        count[0] += 1
                    step += size

        threads = [threading.Thread(target=client, args=(r,)) for r in runs]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while count[0] < KILL_AFTER:
            assert time.monotonic() < deadline, "the load did not get going"
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # while requests are in flight
        killed.set()
        server.wait(30)
        for thread in threads:
            thread.join(60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)

    db = Database(db_url)
    try:
        with db.read() as conn:
            for run_id, steps in acknowledged.items():
                stored = set(conn.execute(select(MetricRow.step).where(MetricRow.run_id == run_id)).scalars())
                missing = steps - stored
                assert not missing, f"run {run_id} lost {len(missing)} acknowledged points"
        assert sum(len(s) for s in acknowledged.values()) > 0
    finally:
        db.engine.dispose()
