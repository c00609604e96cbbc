"""``shipyard pipelines`` as a user runs it: apply a file, run with parameters, read runs and logs,
resume a failed run; embedded and against a live server (where runs execute on the server)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from support.cli import fails, invoke, isolate, ok, ok_json
from support.live_server import LiveServer, start_live_server

FLOWS = '''
from pathlib import Path

from shipyard.pipelines.definition import pipeline, step


@step
def numbers(n: int) -> list[int]:
    print(f"making {n} numbers")
    return list(range(n))


@step
def total(values: list[int], gate: str) -> int:
    if not Path(gate).exists():
        raise RuntimeError("gate closed")
    return sum(values)


@pipeline
def summing(n: int = 3, gate: str = "gate") -> None:
    """Sum the first n numbers."""
    total(numbers(n), gate)
'''


def write_flows(folder: Path) -> str:
    name = f"flows_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(FLOWS)
    return f"{name}.py"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=tmp_path / "home", user="ann")
    return tmp_path / "home"


def test_apply_run_inspect_and_resume(home: Path, tmp_path: Path) -> None:
    flows = write_flows(tmp_path)
    assert "Applied summing" in ok("pipelines", "apply", flows)
    assert "summing" in ok("pipelines", "list")
    shown = ok_json("pipelines", "show", "summing")
    assert [n["id"] for n in shown["nodes"]] == ["numbers", "total"]

    failed = invoke("pipelines", "run", "summing", "--param", "n=4", "--json")
    assert failed.exit_code == 1
    run = json.loads(failed.stdout)
    assert run["state"] == "FAILED" and run["params"] == {"n": 4, "gate": "gate"}
    assert [s["state"] for s in run["steps"]] == ["SUCCEEDED", "FAILED"]
    assert "gate closed" in ok("pipelines", "logs", run["id"], "--step", "total")
    assert ok_json("pipelines", "logs", run["id"])["numbers"]["stdout"] == "making 4 numbers\n"

    (tmp_path / "gate").write_text("")
    resumed = ok_json("pipelines", "run", "summing", "-p", "n=4", "--resume", run["id"])
    assert resumed["state"] == "SUCCEEDED" and resumed["resumed_from"] == run["id"]
    assert [s["state"] for s in resumed["steps"]] == ["CACHED", "SUCCEEDED"]

    listed = ok("pipelines", "runs", "summing")
    assert run["id"] in listed and resumed["id"] in listed
    # The runs are tracking runs: the runs table shows them without special cases.
    assert resumed["id"] in ok("runs", "list", "--experiment", "pipelines/summing")


def test_bad_input_is_one_line(home: Path, tmp_path: Path) -> None:
    flows = write_flows(tmp_path)
    ok("pipelines", "apply", flows)
    assert "no parameter 'epochs'" in fails("pipelines", "run", "summing", "-p", "epochs=3")
    assert "parameter 'n' must be int" in fails("pipelines", "run", "summing", "-p", "n=many")
    assert "pipeline 'nope' does not exist" in fails("pipelines", "run", "nope")
    assert "unknown executor 'warp'" in fails("pipelines", "run", "summing", "--executor", "warp")
    assert "defines no @pipeline" in fails("pipelines", "apply", "json")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, LiveServer, dict[str, str]]]:
    home = tmp_path_factory.mktemp("pipelines-remote")
    app = build_app(load_settings(home=home / "server", artifacts=str(home / "artifacts")))
    tokens = {}
    for user, role in {"carl": "contributor", "vera": "viewer"}.items():
        app.accounts.create_user(user, role=role)
        tokens[user] = app.accounts.create_token(user).secret
    live = start_live_server(app)
    yield app, live, tokens
    live.stop()
    app.close()


def test_against_a_server(
    server: tuple[App, LiveServer, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, live, tokens = server
    isolate(monkeypatch, tmp_path, home=tmp_path / "client-home")
    (tmp_path / "gate").write_text("")
    flows = write_flows(tmp_path)  # importable by the server too: same process, cwd on the path
    monkeypatch.setenv("SHIPYARD_URL", live.url)
    monkeypatch.setenv("SHIPYARD_TOKEN", tokens["vera"])
    assert "pipelines.write" in fails("pipelines", "apply", flows)
    monkeypatch.setenv("SHIPYARD_TOKEN", tokens["carl"])
    ok("pipelines", "apply", flows)
    run = ok_json("pipelines", "run", "summing", "-p", "n=5", "-p", f"gate={tmp_path / 'gate'}")
    assert run["state"] == "SUCCEEDED" and run["steps"][1]["output_kind"] == "json"
    assert app.pipelines.get_run(run["id"]).started_by == "carl"
    assert app.audit.list(action="pipeline.apply")[-1].actor == "carl"
    monkeypatch.setenv("SHIPYARD_TOKEN", tokens["vera"])
    assert "pipelines.run" in fails("pipelines", "run", "summing")
    assert run["id"] in ok("pipelines", "runs", "summing")
