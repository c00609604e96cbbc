"""The prediction server under load: wrk (the Debian package) against ``shipyard serve`` on
127.0.0.1, single-row JSON requests to a scikit-learn model, 16 connections, inference log on, the
server given both cores (2 workers). Target: >= 3,000 requests/s, p99 <= 20 ms, 0 errors.

With ``.venv-mlflow`` present (``make bench-mlflow``), MLflow's ``models serve`` runs on the same
model and payload (``/invocations``, ``dataframe_records``) for the side-by-side row.

``SHIPYARD_BENCH_SERVE_SECONDS`` sets the duration of each wrk run (default 60).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from common import Result
from serving_model import ROW, frame, train
from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.packaging.package import save_model

HERE = Path(__file__).resolve().parent
SECONDS = int(os.environ.get("SHIPYARD_BENCH_SERVE_SECONDS", "60"))
MLFLOW_VENV = HERE.parent / ".venv-mlflow"
CONNECTIONS = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def wrk(url: str, body: dict[str, object], seconds: int = SECONDS) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(body, handle)
    env = {**os.environ, "WRK_BODY_FILE": handle.name}
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(HERE / "wrk" / "post.lua"), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(handle.name)
    line = next(line for line in out.splitlines() if line.startswith("JSON "))
    data = json.loads(line[5:])
    errors = sum(v for k, v in data.items() if k.startswith("errors_"))
    return {
        "rps": data["requests"] / (data["duration_us"] / 1e6),
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "errors": errors,
    }


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def shipyard_side(home: Path) -> dict[str, float]:
    app = build_app(load_settings(home=home))
    app.tracking.get_or_create_experiment("bench")
    run = app.tracking.create_run("bench")
    save_model(train(), home / "model.zip", input_example=frame(5))
    app.tracking.log_artifact(run.id, home / "model.zip", "model")
    app.tracking.end_run(run.id)
    version = app.registry.create_version("bench", run.id, actor="bench")
    app.registry.set_alias("bench", "champion", version.version, actor="bench")
    app.close()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli.main", "serve", "--model", "bench@champion", "--public",
         "--port", str(port), "--workers", "2"],
        env={**os.environ, "SHIPYARD_HOME": str(home)}, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready", proc)
        url = f"{base}/v1/deployments/bench/predict"
        wrk(url, {"inputs": ROW}, seconds=3)  # warm both workers
        figures = wrk(url, {"inputs": ROW})
        metrics = httpx.get(f"{base}/metrics").text
        figures["logged"] = sum(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("shipyard_inference_log_queued_total")
        )
        return figures
    finally:
        stop(proc)


def mlflow_side(tmp: Path) -> dict[str, float] | None:
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        return None
    model_dir = tmp / "mlflow-model"
    subprocess.run(
        [str(python), str(HERE / "serving_model.py"), "mlflow", str(model_dir)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        [str(MLFLOW_VENV / "bin" / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "-w", "2"],
        env={**os.environ, "PATH": f"{MLFLOW_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"},
        stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/ping", proc)
        url = f"http://127.0.0.1:{port}/invocations"
        wrk(url, {"dataframe_records": [ROW]}, seconds=3)
        return wrk(url, {"dataframe_records": [ROW]})
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def run() -> list[Result]:
    if shutil.which("wrk") is None:
        return [Result("serve: wrk is not installed (apt-get install wrk)", 0, "", note="skipped")]
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-serve-") as folder:
        tmp = Path(folder)
        load_before = os.getloadavg()[0]
        ours = shipyard_side(tmp / "home")
        load_after = os.getloadavg()[0]
        print(f"shipyard serve: {ours}", file=sys.stderr)
        theirs = mlflow_side(tmp)
    # The machine's load says how much of its two cores the server really had.
    note = (
        f"{SECONDS} s, {CONNECTIONS} connections, 2 workers, inference log on ({ours['logged']:.0f} rows "
        f"queued, summed over the workers by /metrics); 1-min load average {load_before:.1f} before, {load_after:.1f} after"
    )
    results = [
        Result("serve: single-row requests/s (wrk)", ours["rps"], "req/s", 3000, note, higher=True),
        Result("serve: p99 latency", ours["p99_ms"], "ms", 20),
        Result("serve: p50 latency", ours["p50_ms"], "ms"),
        Result("serve: errors", ours["errors"], "", 0),
    ]
    if theirs is None:
        results.append(
            Result(
                "serve: MLflow models serve",
                0,
                "",
                note="not measured: make bench-mlflow builds .venv-mlflow",
            )
        )
    else:
        results += [
            Result(
                "serve: MLflow models serve requests/s", theirs["rps"], "req/s", note="same model and payload"
            ),
            Result("serve: MLflow models serve p99", theirs["p99_ms"], "ms"),
            Result("serve: MLflow errors", theirs["errors"], ""),
        ]
    return results
