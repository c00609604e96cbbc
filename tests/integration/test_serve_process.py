"""``shipyard serve`` as a real process on 127.0.0.1: it answers, follows the alias it was given,
and a SIGTERM drains the inference log into the artifact store. Hypothesis throws arbitrary JSON at
the predict routes: never a 5xx."""

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


class Process:
    def __init__(self, home: Path, *args: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SHIPYARD_HOME": str(home)}
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


def test_sigterm_drains_the_inference_log(home: Path) -> None:
    process = Process(home, "--model", "churn@champion", "--public")
    ids = []
    for i in range(25):
        answer = httpx.post(
            f"{process.url}/v1/deployments/churn/predict",
            json={"inputs": ROW},
            headers={"X-Request-ID": f"r{i}"},
        )
        assert answer.status_code == 200
        ids.append(answer.headers["x-request-id"])
    # uvicorn shuts down gracefully, then re-raises the signal: the exit status is SIGTERM's.
    assert process.stop() in (0, -signal.SIGTERM)
    files = list((home / "artifacts" / "inference-log" / "churn").rglob("*.parquet"))
    logged = [r for f in files for r in pq.read_table(f).column("request_id").to_pylist()]
    assert sorted(logged) == sorted(ids)


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
