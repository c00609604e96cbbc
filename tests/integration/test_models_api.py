"""The model registry over a real uvicorn: routes, roles per action, error envelopes for bad
input, gate evaluation from JSON rows, and model cards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from support.live_server import LiveServer, start_live_server
from support.registry_models import LABEL, churn_data, log_trained_run

ROLES = {"carl": "contributor", "rita": "reviewer", "dave": "deployer", "vic": "viewer", "ada": "admin"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, LiveServer, dict[str, str]]]:
    home = tmp_path_factory.mktemp("models-api")
    app = build_app(load_settings(home=home / "home", artifacts=str(home / "artifacts")))
    tokens = {}
    for user, role in ROLES.items():
        app.accounts.create_user(user, role=role)
        tokens[user] = app.accounts.create_token(user).secret
    server = start_live_server(app)
    yield app, server, tokens
    server.stop()
    app.close()


@pytest.fixture
def app(setup: tuple[App, LiveServer, dict[str, str]]) -> App:
    return setup[0]


@pytest.fixture
def as_user(setup: tuple[App, LiveServer, dict[str, str]]) -> Iterator[dict[str, httpx.Client]]:
    _, server, tokens = setup
    clients = {
        user: httpx.Client(
            base_url=server.url + "/api/v1/models", headers={"Authorization": f"Bearer {secret}"}
        )
        for user, secret in tokens.items()
    }
    yield clients
    for client in clients.values():
        client.close()


def root(client: httpx.Client) -> str:
    """``/api/v1/models`` itself (a relative "" would add a trailing slash)."""
    return str(client.base_url).rstrip("/")


def error_of(response: httpx.Response, status: int) -> dict[str, str | None]:
    assert response.status_code == status, response.text
    error: dict[str, str | None] = response.json()["error"]
    return error


def new_model(app: App, tmp_path: Path, carl: httpx.Client, name: str, versions: int = 1) -> None:
    for _ in range(versions):
        run_id = log_trained_run(app, tmp_path)
        response = carl.post(f"/{name}/versions", json={"run_id": run_id, "description": "weekly retrain"})
        assert response.status_code == 201, response.text


def test_register_read_and_list(app: App, tmp_path: Path, as_user: dict[str, httpx.Client]) -> None:
    run_id = log_trained_run(app, tmp_path, git_commit="f00d")
    created = as_user["carl"].post("/reg/versions", json={"run_id": run_id, "tags": {"team": "growth"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["model"], body["version"], body["stage"], body["created_by"]) == (
        "reg",
        1,
        "registered",
        "carl",
    )
    assert (
        body["code_version"] == "f00d" and body["flavor"] == "sklearn" and body["tags"] == {"team": "growth"}
    )
    assert body["training_data"]["digest"].startswith("sha256:")
    viewer = as_user["vic"]
    assert viewer.get("/reg/versions/1").json()["run_id"] == run_id
    assert [v["version"] for v in viewer.get("/reg/versions").json()["versions"]] == [1]
    assert "reg" in [m["name"] for m in viewer.get(root(viewer)).json()["models"]]
    assert viewer.get("/reg").json()["latest_version"] == 1


def test_each_stage_has_its_own_route_and_action(
    app: App, tmp_path: Path, as_user: dict[str, httpx.Client]
) -> None:
    carl, dave = as_user["carl"], as_user["dave"]
    new_model(app, tmp_path, carl, "life", versions=2)
    assert carl.post("/life/versions/1/staging", json={}).json()["stage"] == "staging"
    denied = error_of(carl.post("/life/versions/1/production", json={}), 403)
    assert denied["type"] == "PermissionDenied" and "models.deploy" in (denied["message"] or "")
    assert dave.post("/life/versions/1/production", json={"comment": "go"}).json()["stage"] == "production"
    # Archiving a production version is a deployment decision; archiving a registered one is not.
    error_of(carl.post("/life/versions/1/archive", json={}), 403)
    assert carl.post("/life/versions/2/archive", json={}).json()["stage"] == "archived"
    assert carl.post("/life/versions/2/retire", json={}).json()["stage"] == "retired"
    final = error_of(carl.post("/life/versions/2/staging", json={}), 409)
    assert "retired is final" in (final["message"] or "")
    history = as_user["vic"].get("/life/history", params={"version": 1}).json()["transitions"]
    assert [(t["to_stage"], t["actor"]) for t in history] == [
        ("registered", "carl"),
        ("staging", "carl"),
        ("production", "dave"),
    ]


def test_bad_requests_get_clear_4xx(app: App, tmp_path: Path, as_user: dict[str, httpx.Client]) -> None:
    carl, dave = as_user["carl"], as_user["dave"]
    new_model(app, tmp_path, carl, "bad")
    unknown = error_of(carl.get("/nope"), 404)
    assert (unknown["type"], unknown["field"]) == ("NotFound", "name")
    assert "has no version 7" in (error_of(carl.get("/bad/versions/7"), 404)["message"] or "")
    assert "no alias 'gold'" in (error_of(carl.get("/bad/aliases/gold"), 404)["message"] or "")
    illegal = error_of(dave.post("/bad/versions/1/production", json={}), 409)
    assert illegal["type"] == "Conflict"
    assert (
        "cannot move from registered to production (legal from registered: archived, retired, staging)"
        in (illegal["message"] or "")
    )
    missing = error_of(carl.post("/bad/versions", json={"artifact_path": "model"}), 422)
    assert missing["field"] == "body.run_id"
    error_of(carl.post("/bad/versions", json={"run_id": "0" * 32}), 404)
    assert error_of(carl.get("/bad/versions/x"), 422)["field"] == "path.version"
    bad_policy = error_of(dave.put("/bad/policy", json={"min": {"auc": "high"}}), 422)
    assert bad_policy["field"] == "policy.min.auc"


def test_aliases_need_deploy_and_resolve(app: App, tmp_path: Path, as_user: dict[str, httpx.Client]) -> None:
    carl, dave = as_user["carl"], as_user["dave"]
    new_model(app, tmp_path, carl, "ali", versions=2)
    error_of(carl.put("/ali/aliases/champion", json={"version": 1}), 403)
    assert dave.put("/ali/aliases/champion", json={"version": 2}).json()["aliases"] == ["champion"]
    assert carl.get("/ali/aliases/champion").json()["version"] == 2
    assert dave.delete("/ali/aliases/champion").status_code == 204
    error_of(carl.get("/ali/aliases/champion"), 404)
    assert carl.post("/ali/tags", json={"tags": {"k": "v"}, "version": 1}).status_code == 204
    assert carl.get("/ali/versions/1").json()["tags"] == {"k": "v"}


def test_rollback_route(app: App, tmp_path: Path, as_user: dict[str, httpx.Client]) -> None:
    carl, dave = as_user["carl"], as_user["dave"]
    new_model(app, tmp_path, carl, "rb", versions=2)
    for v in (1, 2):
        carl.post(f"/rb/versions/{v}/staging", json={})
        dave.post(f"/rb/versions/{v}/production", json={})
    error_of(carl.post("/rb/rollback", json={}), 403)
    assert dave.post("/rb/rollback", json={}).json()["version"] == 1
    assert carl.get("/rb/aliases/production").json()["version"] == 1


def test_approvals_gates_and_card(app: App, tmp_path: Path, as_user: dict[str, httpx.Client]) -> None:
    carl, rita, dave = as_user["carl"], as_user["rita"], as_user["dave"]
    new_model(app, tmp_path, carl, "gated")
    carl.post("/gated/versions/1/staging", json={})
    policy = {
        "min": {"auc": 0.6},
        "fairness": {"sensitive": "age_band", "max_demographic_parity_difference": 1.0},
        "require_approval": True,
    }
    assert dave.put("/gated/policy", json=policy).json()["policy"]["require_approval"] is True
    refused = error_of(dave.post("/gated/versions/1/production", json={}), 409)
    assert "needs a passing gate evaluation" in (refused["message"] or "")

    rows = churn_data()[1].head(400).to_dict(orient="records")
    report = carl.post(
        "/gated/versions/1/gates", json={"target_stage": "production", "label": LABEL, "rows": rows}
    )
    assert report.status_code == 200, report.text
    results = {r["name"]: r for r in report.json()["results"]}
    assert results["min auc"]["passed"] and results["min auc"]["measured"] > 0.6
    assert results["fairness demographic_parity_difference"]["passed"]
    assert results["approval"]["passed"] is False

    request = carl.post("/gated/versions/1/approvals", json={"target_stage": "production"}).json()
    self_review = error_of(carl.post(f"/gated/approvals/{request['id']}/approve", json={}), 403)
    assert "models.approve" in (self_review["message"] or "")  # contributors cannot approve at all
    as_user["ada"].post("/gated/versions/1/approvals", json={"target_stage": "production"})
    own = as_user["ada"].get("/gated/approvals").json()["approvals"][-1]
    assert "cannot decide it" in (
        error_of(as_user["ada"].post(f"/gated/approvals/{own['id']}/approve", json={}), 403)["message"] or ""
    )
    error_of(dave.post("/gated/versions/1/production", json={}), 403)
    decided = rita.post(f"/gated/approvals/{request['id']}/approve", json={"comment": "fine"}).json()
    assert (decided["status"], decided["decided_by"]) == ("approved", "rita")
    error_of(rita.post(f"/other/approvals/{request['id']}/approve", json={}), 404)
    assert dave.post("/gated/versions/1/production", json={}).json()["stage"] == "production"

    markdown = carl.get("/gated/versions/1/card")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## Fairness" in markdown.text and "demographic_parity_difference" in markdown.text
    html = carl.get("/gated/versions/1/card", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<h2>Approval history</h2>" in html.text
    assert "rita" in html.text
    error_of(carl.get("/gated/versions/1/card", params={"format": "pdf"}), 422)


def test_compare_route(app: App, tmp_path: Path, as_user: dict[str, httpx.Client]) -> None:
    carl = as_user["carl"]
    new_model(app, tmp_path, carl, "cmp")
    run_id = log_trained_run(app, tmp_path, features=["tenure_months", "contract"])
    carl.post("/cmp/versions", json={"run_id": run_id})
    body = as_user["vic"].get("/cmp/compare", params={"left": 1, "right": 2}).json()
    assert body["features_removed"] == ["monthly_charges", "payment_method", "support_calls"]
    assert body["same_training_data"] is True
    assert set(body["metrics"]) == {"accuracy"} and set(body["params"]) == {"C", "features"}


def test_actions_are_audited_under_the_callers_name(app: App, as_user: dict[str, httpx.Client]) -> None:
    as_user["carl"].post(root(as_user["carl"]), json={"name": "audited", "description": "d"})
    [record] = app.audit.list(object_id="audited", action="model.create")
    assert record.actor == "carl" and record.request_id


def test_the_sdk_loads_models_from_a_server(
    app: App, tmp_path: Path, as_user: dict[str, httpx.Client], setup: tuple[App, LiveServer, dict[str, str]]
) -> None:
    import shipyard.models
    from shipyard.client import Client
    from shipyard.errors import NotFound
    from support.registry_models import FEATURES

    carl, dave = as_user["carl"], as_user["dave"]
    new_model(app, tmp_path, carl, "served")
    dave.put("/served/aliases/champion", json={"version": 1})
    _, server, tokens = setup
    settings = load_settings(home=tmp_path / "client", url=server.url, token=tokens["vic"])
    with Client(settings) as client:
        version = shipyard.models.get("served@champion", client=client)
        assert (version.ref, version.stage.value, version.created_by) == ("served/1", "registered", "carl")
        model = shipyard.models.load("served@champion", client=client)
        assert model.predict(churn_data()[1][FEATURES].head(3)).shape == (3,)
        with pytest.raises(NotFound, match="no alias 'gold'"):
            shipyard.models.load("served@gold", client=client)
