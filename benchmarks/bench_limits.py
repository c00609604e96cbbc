"""Peak memory of a real ``shipyard server`` process (default limits, SQLite) while 8 clients at once
send the largest requests it accepts, and some it refuses:

- without a token: 46 MB JSON bodies (answered 401 before the body is read);
- with a token: metric batches of ``max_metric_points`` points; JSON bodies just past
  ``max_body_bytes`` (413); artifact uploads of 64 MiB (streamed to the artifact store).

The figure is the server's peak resident set (``VmHWM``), read from ``/proc`` after the run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from common import Result
from shipyard.app import build_app
from shipyard.config import load_settings

CLIENTS = 8
ROUNDS = 3
UPLOAD_BYTES = 64 * 2**20
TARGET_MB = 500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def _zeros(total: int, chunk: int = 2**20) -> Iterator[bytes]:
    block = b"\0" * chunk
    for _ in range(total // chunk):
        yield block


def _client_work(url: str, token: str, run_id: str, i: int, statuses: list[int]) -> None:
    settings = load_settings()
    points = [["loss", 0.5, step, 1_700_000_000_000 + step] for step in range(settings.max_metric_points)]
    batch = json.dumps({"points": points}).encode()
    too_big = b'{"tags": {"a": "' + b"x" * settings.max_body_bytes + b'"}}'
    anonymous_body = b'{"experiment": "' + b"x" * (46 * 2**20) + b'"}'
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=300) as http:
        for r in range(ROUNDS):
            out = [
                http.post(
                    "/api/v1/runs", content=anonymous_body, headers={"Content-Type": "application/json"}
                ),
                http.post(f"/api/v1/runs/{run_id}/metrics", content=batch, headers=auth),
                http.post(f"/api/v1/runs/{run_id}/tags", content=too_big, headers=auth),
                http.put(
                    f"/api/v1/runs/{run_id}/artifacts/c{i}-r{r}.bin",
                    content=_zeros(UPLOAD_BYTES),
                    headers={"Authorization": f"Bearer {token}"},
                ),
            ]
            statuses.extend(response.status_code for response in out)


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-limits-") as tmp:
        home = Path(tmp) / "home"
        app = build_app(load_settings(home=home))
        app.accounts.create_user("bench", role="admin")
        token = app.accounts.create_token("bench").secret
        app.tracking.create_experiment("bench")
        run_ids = [app.tracking.create_run("bench").id for _ in range(CLIENTS)]
        app.close()
        port = _free_port()
        env = {**os.environ, "SHIPYARD_HOME": str(home)}
        env.pop("SHIPYARD_URL", None)
        shipyard = Path(sys.executable).with_name("shipyard")
        server = subprocess.Popen(
            [str(shipyard), "server", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.1)
            idle = _peak_rss_mb(server.pid)
            statuses: list[int] = []
            started = time.perf_counter()
            threads = [
                threading.Thread(target=_client_work, args=(url, token, run_ids[i], i, statuses))
                for i in range(CLIENTS)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - started
            peak = _peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    expected = {401, 200, 413, 201}
    if set(statuses) != expected:
        raise RuntimeError(f"unexpected statuses {sorted(set(statuses))}, expected {sorted(expected)}")
    note = (
        f"{CLIENTS} clients x {ROUNDS} rounds: 46 MB anonymous bodies (401), max-size metric batches, "
        f"bodies past max_body_bytes (413), {UPLOAD_BYTES >> 20} MiB uploads; idle {idle:.0f} MB; {seconds:.1f} s"
    )
    return [Result("server peak RSS under 8 clients of maximum-size requests", peak, "MB", TARGET_MB, note)]


if __name__ == "__main__":
    for result in run():
        print(result)
