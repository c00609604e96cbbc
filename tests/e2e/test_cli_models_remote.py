"""``shipyard models`` against a live server (``SHIPYARD_URL`` + a token): every command goes over
HTTP and the server's roles decide. A contributor registers, stages, requests approval and runs
the gates but cannot promote; a reviewer approves; a deployer promotes, aliases and rolls back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from support.cli import fails, invoke, isolate, ok
from support.live_server import LiveServer, start_live_server
from support.registry_models import FEATURES, LABEL, churn_data, log_trained_run, train

ROLES = {"carl": "contributor", "rita": "reviewer", "dave": "deployer"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, LiveServer, dict[str, str]]]:
    home = tmp_path_factory.mktemp("cli-remote")
    app = build_app(load_settings(home=home / "server", artifacts=str(home / "artifacts")))
    tokens = {}
    for user, role in ROLES.items():
        app.accounts.create_user(user, role=role)
        tokens[user] = app.accounts.create_token(user).secret
    server = start_live_server(app)
    yield app, server, tokens
    server.stop()
    app.close()


@pytest.fixture
def as_user(
    site: tuple[App, LiveServer, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], None]]:
    """``as_user("carl")`` points the CLI at the server with carl's token (no local home at all)."""
    _, server, tokens = site
    isolate(monkeypatch, tmp_path, home=tmp_path / "client-home")

    def switch(user: str) -> None:
        monkeypatch.setenv("SHIPYARD_URL", server.url)
        monkeypatch.setenv("SHIPYARD_TOKEN", tokens[user])

    yield switch


def test_roles_decide_what_each_user_may_do_from_the_cli(
    site: tuple[App, LiveServer, dict[str, str]], as_user: Callable[[str], None], tmp_path: Path
) -> None:
    app, switch = site[0], as_user
    model = train()
    runs = [log_trained_run(app, tmp_path, model) for _ in range(2)]
    evaluation = tmp_path / "evaluation.parquet"
    churn_data()[1].to_parquet(evaluation)

    switch("carl")
    for run in runs:
        ok("models", "register", "remote-churn", "--run", run)
    registered = json.loads(ok("models", "show", "remote-churn/1", "--json"))
    assert registered["created_by"] == "carl"  # the token's user, not the local login
    assert "is now staging" in ok("models", "transition", "remote-churn/1", "staging")
    denied = fails("models", "transition", "remote-churn/1", "production")
    assert "user 'carl' may not perform models.deploy on model 'remote-churn'" in denied
    assert "deployer" in denied
    assert "may not perform models.deploy" in fails(
        "models", "policy", "remote-churn", "--set", '{"min": {"auc": 0.6}, "require_approval": true}'
    )

    switch("dave")
    ok("models", "policy", "remote-churn", "--set", '{"min": {"auc": 0.6}, "require_approval": true}')

    switch("carl")
    request = json.loads(ok("models", "request-approval", "remote-churn/1", "--json", "-m", "ready"))
    assert "may not perform models.approve" in fails("models", "approve", request["id"])
    # the evaluation frame travels as Parquet; approval is still pending, so a gate fails
    gated = invoke("models", "gates", "remote-churn/1", "--data", str(evaluation), "--label", LABEL, "--json")
    assert gated.exit_code == 1  # a failing evaluation fails the command
    results = {g["name"]: g["passed"] for g in json.loads(gated.stdout)["results"]}
    assert results == {"min auc": True, "approval": False}

    switch("rita")
    assert "approved" in ok("models", "approve", request["id"], "-m", "looks good")
    assert "may not perform models.write" in fails("models", "transition", "remote-churn/2", "staging")

    switch("carl")
    report = json.loads(
        ok("models", "gates", "remote-churn/1", "--data", str(evaluation), "--label", LABEL, "--json")
    )
    assert report["passed"] is True and {g["name"] for g in report["results"]} == {"min auc", "approval"}

    switch("dave")
    assert "is now production" in ok("models", "transition", "remote-churn/1", "production")
    ok("models", "alias", "remote-churn/1", "champion")
    shown = json.loads(ok("models", "show", "remote-churn@champion", "--json"))
    assert (shown["version"], shown["stage"]) == (1, "production")
    assert "# Model card: remote-churn version 1" in ok("models", "card", "remote-churn@champion")
    assert app.registry.get_version("remote-churn", 1).stage.value == "production"
    actors = {r.actor for r in app.audit.list(model="remote-churn")}
    assert {"carl", "rita", "dave"} <= actors

    onnx_file = tmp_path / "churn.onnx"
    heldout = tmp_path / "heldout.parquet"
    churn_data()[1][FEATURES].head(50).to_parquet(heldout)
    ok("models", "export-onnx", "remote-churn@champion", "-o", str(onnx_file), "--heldout", str(heldout))
    assert onnx_file.stat().st_size > 0


def test_a_bad_token_or_unknown_model_is_one_line(
    as_user: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user("carl")
    assert fails("models", "show", "nope") == "error: model 'nope' does not exist"
    monkeypatch.setenv("SHIPYARD_TOKEN", "shp_wrong")
    assert fails("models", "list").startswith("error: ")
