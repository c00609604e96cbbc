"""MLflow's side of the REST write load, run in ``.venv-mlflow`` (``make bench-mlflow``):
``mlflow server`` with its defaults on a SQLite file, the same 8 clients alternating a 1-point and
a 100-point ``log-batch``; every acknowledged point read back through ``get-history``. Prints one
JSON line (the figures ``bench_rest_writes.py`` reports). Usage: ``mlflow_rest.py SECONDS THREADS``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from rest_load import run_load


def _call(base: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        result: dict[str, object] = json.loads(response.read() or b"{}")
        return result


def main() -> None:
    seconds, threads = float(sys.argv[1]), int(sys.argv[2])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="mlflow-bench-") as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{Path(tmp) / 'mlflow.db'}",
             "--default-artifact-root", str(Path(tmp) / "artifacts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(base + "/health", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            experiment = _call(base, "/api/2.0/mlflow/experiments/create", {"name": "rest-load"})
            runs = [
                _call(base, "/api/2.0/mlflow/runs/create", {"experiment_id": experiment["experiment_id"]})
                for _ in range(threads)
            ]
            run_ids = [r["run"]["info"]["run_id"] for r in runs]  # type: ignore[index]
            now = int(time.time() * 1000)
            steps = [0] * threads

            def request(index: int, n: int) -> tuple[str, bytes, int]:
                size = 1 if n % 2 == 0 else 100
                metrics = [
                    {
                        "key": "loss",
                        "value": 0.5,
                        "timestamp": now + steps[index] + i,
                        "step": steps[index] + i,
                    }
                    for i in range(size)
                ]
                steps[index] += size
                body = json.dumps({"run_id": run_ids[index], "metrics": metrics}).encode()
                return "/api/2.0/mlflow/runs/log-batch", body, size

            stats = run_load(
                "127.0.0.1",
                port,
                request,
                headers={},
                health_path="/health",
                threads=threads,
                duration=seconds,
            )
            lost = 0
            for index, run_id in enumerate(run_ids):
                history = _call(
                    base,
                    f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loss&max_results=10000000",
                )
                lost += max(0, stats.acknowledged.get(index, 0) - len(history.get("metrics", [])))  # type: ignore[arg-type]
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps({**stats.summary(), "lost": lost}))


if __name__ == "__main__":
    main()
