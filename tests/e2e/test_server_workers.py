"""``shipyard server --workers 2``: several processes serve one port and one database; a token
revoked through one process is refused by every process within ``token_cache_seconds``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shipyard.app import build_app
from shipyard.config import load_settings

CLI = [sys.executable, "-c", "from shipyard.cli.main import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_workers_serve_writes_and_honour_revocation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = build_app(load_settings(home=home, artifacts=str(tmp_path / "artifacts")))
    app.accounts.create_user("w", role="admin")
    issued = app.accounts.create_token("w")
    app.tracking.create_experiment("workers")
    run_id = app.tracking.create_run("workers").id
    port = _free_port()
    env = {**os.environ, "SHIPYARD_HOME": str(home), "SHIPYARD_ARTIFACTS": str(tmp_path / "artifacts")}
    env["SHIPYARD_TOKEN_CACHE_SECONDS"] = "1"
    server = subprocess.Popen(
        [*CLI, "server", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {issued.secret}"}
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        for step in range(20):  # new connections: the requests spread over both workers
            response = httpx.post(
                f"{url}/api/v1/runs/{run_id}/metrics",
                json={"points": [["loss", 0.1, step, 1_700_000_000_000 + step]]},
                headers=headers,
            )
            assert response.status_code == 200, response.text
        assert len(app.tracking.metric_history(run_id, "loss")) == 20
        app.accounts.revoke_token(issued.token.id)  # another process: the workers learn within 1 s
        revoked = time.monotonic()
        while time.monotonic() - revoked < 1.5:  # within the bound, either answer is allowed
            assert httpx.get(f"{url}/api/v1/runs/{run_id}", headers=headers).status_code in (200, 401)
        for _ in range(10):  # past it, every worker refuses
            assert httpx.get(f"{url}/api/v1/runs/{run_id}", headers=headers).status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(30)
        app.close()
