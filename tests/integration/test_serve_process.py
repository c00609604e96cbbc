"""``shipyard serve`` as a real process on 127.0.0.1: it answers, follows the alias it was given,
and a SIGTERM drains the inference log into the artifact store. With ``--workers 2`` the workers
share the port, /metrics sums their figures, and a killed worker is replaced. Hypothesis throws
arbitrary JSON at the predict routes: never a 5xx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipyard.app import build_app
from shipyard.config import load_settings
from support.registry_models import FEATURES, register, train
from support.serving import ROW, wait_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # gone meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def _metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


class Process:
    def __init__(self, home: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SHIPYARD_HOME": str(home), **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shipyard.cli.main", "serve", "--port", str(self.port), *args],
            env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            assert time.monotonic() < deadline, "shipyard serve did not become ready"
            time.sleep(0.05)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("served")
    app = build_app(load_settings(home=tmp / "home"))
    v1 = register(app, tmp)
    register(app, tmp, model=train(C=0.001))
    app.registry.set_alias("churn", "champion", v1.version, actor="alice")
    app.close()
    yield tmp / "home"


@pytest.fixture(scope="module")
def served(home: Path) -> Iterator[Process]:
    process = Process(home, "--model", "churn@champion", "--public", "--max-body-kb", "64")
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("workers", "sig"), [(1, signal.SIGTERM), (1, signal.SIGINT), (2, signal.SIGTERM), (2, signal.SIGINT)]
)
def test_a_stop_signal_drains_the_inference_log(
    home: Path, tmp_path: Path, workers: int, sig: signal.Signals
) -> None:
    env = {"TMPDIR": str(tmp_path)}
    process = Process(home, "--model", "churn@champion", "--public", "--workers", str(workers), env=env)
    prefix = f"drain-{workers}-{sig.name}-"
    ids = []
    for i in range(25):  # a new connection each: with two workers, both answer some
        answer = httpx.post(
            f"{process.url}/v1/deployments/churn/predict",
            json={"inputs": ROW},
            headers={"X-Request-ID": f"{prefix}{i}"},
        )
        assert answer.status_code == 200
        ids.append(answer.headers["x-request-id"])
    process.proc.send_signal(sig)
    # After a graceful stop, SIGTERM is re-raised (the status says SIGTERM stopped the server) and
    # Ctrl+C's SIGINT is a clean exit, with one worker or several.
    assert process.proc.wait(90) in {signal.SIGTERM: (0, -signal.SIGTERM), signal.SIGINT: (0,)}[sig]
    files = list((home / "artifacts" / "inference-log" / "churn").rglob("*.parquet"))
    logged = [r for f in files for r in pq.read_table(f).column("request_id").to_pylist()]
    assert sorted(r for r in logged if r.startswith(prefix)) == sorted(ids)
    assert list(tmp_path.glob("shipyard-serve-metrics-*")) == []  # the shared metrics folder is gone


def test_two_workers_sum_their_metrics_and_a_killed_worker_is_replaced(home: Path) -> None:
    process = Process(home, "--model", "churn@champion", "--public", "--workers", "2")
    predict = f"{process.url}/v1/deployments/churn/predict"
    requests = 'shipyard_predict_requests_total{deployment="churn",version="1"}'
    try:
        wait_for(lambda: _metric(process.url, "shipyard_models_loaded") == 2, 60, "both workers loaded")
        before = _metric(process.url, requests)
        for _ in range(40):  # a new connection each: the kernel spreads them over both workers
            assert httpx.post(predict, json={"inputs": ROW}).status_code == 200
        for _ in range(5):  # whichever worker answers the scrape, it shows both workers' counts
            assert _metric(process.url, requests) == before + 40
        queued = "shipyard_inference_log_queued_total"
        wait_for(lambda: _metric(process.url, queued) >= before + 40, 5, "the log counters of both workers")

        workers = _children(process.proc.pid)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: (
                len(_children(process.proc.pid) - {victim}) == 2
                and _metric(process.url, "shipyard_models_loaded") == 2
            ),
            60,
            "a new worker in place of the killed one",
        )
        for _ in range(10):
            assert httpx.post(predict, json={"inputs": ROW}).status_code == 200
        assert _metric(process.url, requests) == before + 50  # the dead worker's counts stay
    finally:
        assert process.stop() in (0, -signal.SIGTERM)
    assert process.proc.stderr is not None
    assert f"worker 1 (pid {victim}) was killed by SIGKILL; restarting it" in process.proc.stderr.read()


def test_a_lone_client_does_not_wait_out_max_wait(home: Path) -> None:
    process = Process(home, "--model", "churn@champion", "--public", "--max-wait-ms", "1000")
    try:
        with httpx.Client(base_url=process.url) as client:  # one keep-alive connection
            for _ in range(5):
                began = time.monotonic()
                assert client.post("/v1/deployments/churn/predict", json={"inputs": ROW}).status_code == 200
                assert time.monotonic() - began < 0.5  # no other connection can send: no wait
    finally:
        process.stop()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("reuse_port", [False, True], ids=["plain", "reuseport"])
def test_a_taken_port_is_one_error_line(home: Path, workers: int, reuse_port: bool) -> None:
    with socket.socket() as taken:  # another server, maybe one whose workers share the port too
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "shipyard.cli.main", "serve", "--model", "churn@champion",
             "--port", str(port), "--workers", str(workers)],
            env={**os.environ, "SHIPYARD_HOME": str(home)}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_the_server_follows_an_alias_move(home: Path, served: Process) -> None:
    url = f"{served.url}/v1/deployments/churn/predict"
    assert httpx.post(url, json={"inputs": ROW}).json()["version"] == 1
    app = build_app(load_settings(home=home))
    app.registry.set_alias("churn", "champion", 2, actor="alice")
    try:
        wait_for(lambda: httpx.post(url, json={"inputs": ROW}).json()["version"] == 2, 2.0, "the alias move")
    finally:
        app.registry.set_alias("churn", "champion", 1, actor="alice")
        app.close()


def test_refuses_what_it_cannot_serve(home: Path) -> None:
    env = {**os.environ, "SHIPYARD_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "serve", "--model", "churn@nope"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "nope" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    unknown = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "serve", "no-such-deployment"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: ")
    assert "no-such-deployment" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
rows = st.fixed_dictionaries({name: json_values for name in FEATURES})
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"inputs": st.one_of(rows, st.lists(rows, max_size=4), json_values)}),
    st.fixed_dictionaries(
        {
            "dataframe_split": st.fixed_dictionaries(
                {
                    "columns": st.just(FEATURES),
                    "data": st.lists(st.lists(json_values, min_size=5, max_size=5), max_size=3),
                }
            )
        }
    ),
    st.fixed_dictionaries({"dataframe_records": st.lists(rows, max_size=3)}),
    st.fixed_dictionaries({"instances": json_values}),
    st.fixed_dictionaries(
        {
            "inputs": st.lists(
                st.fixed_dictionaries(
                    {
                        "name": st.sampled_from(FEATURES),
                        "shape": st.lists(st.integers(-1, 3), max_size=3),
                        "datatype": st.sampled_from(["FP64", "BYTES", "INT64", "X"]),
                        "data": json_values,
                    }
                ),
                max_size=5,
            )
        }
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies,
    path=st.sampled_from(["/v1/deployments/churn/predict", "/invocations", "/v2/models/churn/infer"]),
)
def test_arbitrary_payloads_never_get_a_5xx(served: Process, body: object, path: str) -> None:
    answer = httpx.post(f"{served.url}{path}", json=body, timeout=30)
    assert answer.status_code < 500, (answer.status_code, answer.text)
    if answer.status_code >= 400:
        assert answer.json()["error"]
