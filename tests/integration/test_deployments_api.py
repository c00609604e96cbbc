"""Deployments over a real uvicorn, on a real registry: REST routes and their roles, error
envelopes for bad input, and the remote SDK (RemoteDeployments) driving a canary to a decision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.app import App, build_app
from shipyard.client.remote_deployments import RemoteDeployments
from shipyard.config import load_settings
from shipyard.errors import InvalidInput, NotFound, PermissionDenied
from shipyard.serving.model import CanaryPolicy
from shipyard.serving.strategies import TargetSpec
from support.deployments import window
from support.live_server import LiveServer, start_live_server
from support.registry_models import register, train

ROLES = {"dave": "deployer", "vic": "viewer", "carl": "contributor", "ada": "admin"}
Setup = tuple[App, LiveServer, dict[str, str]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home: Path = tmp_path_factory.mktemp("deployments-api")
    app = build_app(load_settings(home=home / "home", artifacts=str(home / "artifacts")))
    model = train()
    for _ in range(2):
        register(app, home, "churn", model=model)
    app.registry.set_alias("churn", "champion", 1, actor="alice")
    tokens = {}
    for user, role in ROLES.items():
        app.accounts.create_user(user, role=role)
        tokens[user] = app.accounts.create_token(user).secret
    server = start_live_server(app)
    yield app, server, tokens
    server.stop()
    app.close()


@pytest.fixture
def http(setup: Setup) -> Iterator[dict[str, httpx.Client]]:
    _, server, tokens = setup
    clients = {
        user: httpx.Client(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {secret}"})
        for user, secret in tokens.items()
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
def remote(setup: Setup) -> Iterator[RemoteDeployments]:
    _, server, tokens = setup
    with RemoteDeployments(server.url, tokens["dave"]) as client:
        yield client


def _error(response: httpx.Response, status: int) -> dict[str, str | None]:
    assert response.status_code == status, response.text
    error: dict[str, str | None] = response.json()["error"]
    return error


def test_a_deployer_deploys_and_a_viewer_only_reads(http: dict[str, httpx.Client], setup: Setup) -> None:
    app = setup[0]
    body = {"name": "churn-rest", "model": "churn@champion", "strategy": "blue_green"}
    assert http["vic"].post("/deployments", json=body).status_code == 403
    assert http["carl"].post("/deployments", json=body).status_code == 403
    created = http["dave"].post("/deployments", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["targets"] == [
        {"model": "churn", "version": 1, "role": "primary", "weight": 100, "alias": "champion"}
    ]
    revision = http["vic"].get("/deployments/revision").json()["revision"]
    assert revision == created.json()["revision"]
    assert [d["name"] for d in http["vic"].get("/deployments").json()["deployments"]] == ["churn-rest"]
    assert _error(http["dave"].post("/deployments", json=body), 409)["type"] == "AlreadyExists"
    switched = http["dave"].put(
        "/deployments/churn-rest", json={"model": "churn@2", "strategy": "blue_green"}
    )
    assert [(t["version"], t["role"]) for t in switched.json()["targets"]] == [(2, "primary"), (1, "standby")]
    back = http["dave"].post("/deployments/churn-rest/rollback", json={})
    assert back.json()["targets"][0]["version"] == 1
    assert http["vic"].post("/deployments/churn-rest/rollback", json={}).status_code == 403
    [record] = app.audit.list(object_id="churn-rest", action="deployment.rollback")
    assert record.actor == "dave" and record.request_id  # the HTTP request that caused it
    assert http["dave"].delete("/deployments/churn-rest").status_code == 204
    assert _error(http["vic"].get("/deployments/churn-rest"), 404)["field"] == "deployment"


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"model": "nope@1"}, 404, "model", "model 'nope' does not exist"),
        ({"model": "churn@7"}, 404, "model", "no version 7"),
        ({"model": "churn@gold"}, 404, "model", "gold"),
        ({"model": "churn@1", "strategy": "rainbow"}, 422, "strategy", "unknown strategy 'rainbow'"),
        ({"model": "churn@1", "strategy": "canary"}, 422, "challenger", "a canary needs a challenger"),
        ({"model": "churn@1", "strategy": "shadow"}, 422, "shadow", "needs a shadow target"),
        (
            {
                "strategy": "canary",
                "targets": [
                    {"ref": "churn@1", "role": "primary", "weight": 80},
                    {"ref": "churn@2", "role": "challenger", "weight": 30},
                ],
            },
            422,
            "targets",
            "weights must sum to 100, got 110",
        ),
        (
            {"model": "churn@1", "strategy": "canary", "challenger": "churn@champion"},
            422,
            "targets",
            "twice",
        ),
        ({"model": "churn@1", "weight": 101}, 422, "body.weight", "100"),
        ({"model": "x" * 401}, 422, "body.model", "400"),
        ({"targets": [{"ref": "churn@1", "role": "primary"}] * 5}, 422, "body.targets", "4"),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    http: dict[str, httpx.Client], body: dict[str, object], status: int, field: str, message: str
) -> None:
    error = _error(http["dave"].put("/deployments/churn-bad", json=body), status)
    assert error["field"] == field and message in (error["message"] or "")
    _error(http["dave"].get("/deployments/churn-bad"), 404)


def test_a_body_over_the_limit_is_refused_before_it_is_parsed(http: dict[str, httpx.Client]) -> None:
    huge = b'{"model": "churn@1", "strategy": "single"' + b" " * 70_000 + b"}"
    response = http["dave"].put(
        "/deployments/churn-big", content=huge, headers={"Content-Type": "application/json"}
    )
    error = _error(response, 422)
    assert error["field"] == "body" and "at most 65536" in (error["message"] or "")
    _error(http["dave"].get("/deployments/churn-big"), 404)


def test_the_remote_sdk_drives_a_canary_to_an_automatic_rollback(
    setup: Setup, remote: RemoteDeployments
) -> None:
    app = setup[0]
    policy = CanaryPolicy(steps=(20, 50), min_requests=50)
    deployment = remote.deploy(
        "churn-canary", "churn@champion", strategy="canary", challenger="churn@2", canary=policy, actor=""
    )
    assert deployment.role("challenger").weight == 20  # type: ignore[union-attr]
    assert deployment.canary == policy
    start = app.deployments.get("churn-canary").updated_at
    app.deployments.record(  # as the prediction server's replicas report
        [
            window("churn-canary", 1, "primary", start, requests=200, latency_ms=3.0),
            window("churn-canary", 2, "challenger", start, requests=200, latency_ms=90.0),
        ]
    )
    [decision] = remote.decide("churn-canary")
    assert decision.action == "rollback" and "latency_p99_ratio" in decision.reason
    assert remote.get("churn-canary").strategy == "single"
    [stored] = remote.decisions("churn-canary")
    assert stored.actor == "dave" and stored.figures["challenger"]["requests"] == 200  # type: ignore[index]
    p99 = {c.name: c.value for c in stored.checks}["latency_p99_ratio"]
    assert p99 is not None and p99 > 10
    assert sum(w.requests for w in remote.windows("churn-canary")) == 400
    with pytest.raises(NotFound):
        remote.get("nope")
    with pytest.raises(InvalidInput, match="weights must sum to 100, got 90"):
        remote.deploy(
            "churn-x",
            strategy="canary",
            targets=[TargetSpec("churn@1", "primary", 60), TargetSpec("churn@2", "challenger", 30)],
            actor="",
        )


def test_the_remote_sdk_is_refused_what_the_role_forbids(setup: Setup) -> None:
    _, server, tokens = setup
    with RemoteDeployments(server.url, tokens["vic"]) as viewer:
        assert isinstance(viewer.list_deployments(), list)
        with pytest.raises(PermissionDenied, match=r"deployments\.write"):
            viewer.deploy("churn-vic", "churn@1", actor="")
