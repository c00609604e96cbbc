"""The pipeline routes over a real uvicorn: apply a graph, start a run that executes on the
server, read it back; error envelopes naming the field; roles per action; bounded inputs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.app import App, build_app
from shipyard.client.remote_pipelines import RemotePipelines
from shipyard.config import load_settings
from shipyard.errors import InvalidInput, NotFound, PermissionDenied
from shipyard.pipelines.model import RunState
from support import pipeline_defs as defs
from support.live_server import LiveServer, start_live_server

ROLES = {"carl": "contributor", "vic": "viewer"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, LiveServer, dict[str, str]]]:
    home: Path = tmp_path_factory.mktemp("pipelines-api")
    app = build_app(load_settings(home=home / "home", artifacts=str(home / "artifacts")))
    tokens = {}
    for user, role in ROLES.items():
        app.accounts.create_user(user, role=role)
        tokens[user] = app.accounts.create_token(user).secret
    server = start_live_server(app)
    yield app, server, tokens
    server.stop()
    app.close()


def _remote(setup: tuple[App, LiveServer, dict[str, str]], user: str) -> RemotePipelines:
    return RemotePipelines(setup[1].url, setup[2][user])


def test_apply_run_and_read_over_http(setup: tuple[App, LiveServer, dict[str, str]]) -> None:
    app = setup[0]
    with _remote(setup, "carl") as carl, _remote(setup, "vic") as vic:
        spec = carl.apply(defs.training)
        assert spec.version == defs.training.spec().version
        run_id = carl.submit("training", {"rows": 14})
        deadline = time.monotonic() + 120
        run = vic.get_run(run_id)
        while not run.state.done and time.monotonic() < deadline:
            time.sleep(0.2)
            run = vic.get_run(run_id)
        assert run.state is RunState.SUCCEEDED and run.started_by == "carl"
        assert run.params == {"rows": 14, "scale": 2.0, "c": 1.0}
        assert [s.node for s in run.steps] == ["load", "features", "train", "evaluate"]
        assert vic.logs(run_id, ["load"])["load"][0] == "loading 14 rows\n"
        assert vic.list_runs("training")[0].id == run_id
        assert app.pipelines.get_run(run_id).steps == run.steps
        with pytest.raises(PermissionDenied, match=r"pipelines\.run"):
            vic.submit("training", {})
        with pytest.raises(PermissionDenied, match=r"pipelines\.write"):
            vic.apply(defs.chain)


def test_bad_input_answers_the_error_envelope(setup: tuple[App, LiveServer, dict[str, str]]) -> None:
    with _remote(setup, "carl") as carl:
        carl.apply(defs.training)
        with pytest.raises(InvalidInput, match="no parameter 'epochs'") as err:
            carl.submit("training", {"epochs": 3})
        assert err.value.field == "params.epochs"
        with pytest.raises(NotFound):
            carl.get_run("0" * 32)
        with pytest.raises(NotFound):
            carl.submit("training", {}, resume="0" * 32)
    _, server, tokens = setup
    headers = {"Authorization": f"Bearer {tokens['carl']}"}
    with httpx.Client(base_url=server.url + "/api/v1", headers=headers) as http:
        spec = defs.chain.spec()
        body = {
            "name": "looped",
            "version": spec.version,
            "ref": spec.ref,
            "source_digest": spec.source_digest,
        }
        nodes = [n.to_dict() for n in spec.nodes[:2]]
        nodes[0]["inputs"] = {
            "a": {"kind": "node", "ref": nodes[1]["id"]},
            "b": {"kind": "const", "value": 0},
        }
        response = http.post("/pipelines", json={**body, "params": [], "nodes": nodes})
        assert response.status_code == 422 and "cycle" in response.json()["error"]["message"]
        response = http.get("/pipelines/training/runs", params={"limit": 100_000})
        assert response.status_code == 422 and response.json()["error"]["field"] == "query.limit"
        too_many = {f"p{i}": i for i in range(201)}
        response = http.post("/pipelines/training/runs", json={"params": too_many})
        assert response.status_code == 422 and "params" in response.json()["error"]["field"]
