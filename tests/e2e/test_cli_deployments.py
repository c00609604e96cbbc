"""``shipyard deploy`` and ``shipyard deployments`` end to end on a real SQLite database and a real
registry: deploy by alias, blue-green switch and switch back, a canary rolled back by
``deployments decide`` from the figures replicas reported, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.app import build_app
from shipyard.config import load_settings
from support.cli import fails, isolate, ok, ok_json
from support.deployments import window
from support.registry_models import register, train


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=tmp_path / "home", user="dana")
    app = build_app(load_settings())
    model = train()
    for _ in range(2):
        register(app, tmp_path, "churn", model=model)
    app.registry.set_alias("churn", "champion", 1, actor="alice")
    app.close()
    return tmp_path / "home"


def test_deploy_switch_and_switch_back() -> None:
    shown = ok_json("deploy", "churn-api", "churn@champion", "--strategy", "blue_green")
    assert shown["targets"] == [
        {"model": "churn", "version": 1, "role": "primary", "weight": 100, "alias": "champion"}
    ]
    ok("deploy", "churn-api", "churn@2", "--strategy", "blue_green")
    listing = ok("deployments", "list")
    assert "churn@2 primary 100%" in listing and "churn@1 (champion) standby 0%" in listing
    back = ok_json("deployments", "rollback", "churn-api", "-m", "v2 misbehaves")
    assert [(t["version"], t["role"]) for t in back["targets"]] == [(1, "primary"), (2, "standby")]
    shown = ok("deployments", "show", "churn-api")
    assert "rollback" in shown and "v2 misbehaves" in shown
    assert ok_json("deployments", "pause", "churn-api")["status"] == "paused"
    assert ok_json("deployments", "resume", "churn-api")["status"] == "active"
    ok("deployments", "delete", "churn-api")
    assert "No deployments yet" in ok("deployments", "list")


def test_a_canary_is_rolled_back_by_the_decider() -> None:
    deployed = ok_json(
        "deploy",
        "churn-canary",
        "churn@1",
        "--strategy",
        "canary",
        "--challenger",
        "churn@2",
        "--steps",
        "10,50",
        "--min-requests",
        "50",
    )
    assert deployed["canary"]["steps"] == [10, 50] and deployed["targets"][1]["weight"] == 10
    assert "waiting for samples" in ok("deployments", "decide", "churn-canary")
    app = build_app(load_settings())
    start = app.deployments.get("churn-canary").updated_at
    app.deployments.record(
        [
            window("churn-canary", 1, "primary", start, requests=100),
            window("churn-canary", 2, "challenger", start, requests=100, errors=20),
        ]
    )
    app.close()
    [decision] = ok_json("deployments", "decide")
    assert decision["action"] == "rollback" and "error_rate" in decision["reason"]
    rate = {c["name"]: c for c in decision["checks"]}["error_rate"]
    assert rate["value"] == pytest.approx(0.2) and rate["status"] == "fail"
    shown = ok_json("deployments", "show", "churn-canary")
    assert shown["strategy"] == "single" and shown["decisions"][0]["action"] == "rollback"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("deploy", "x", "churn@gold"), "error: model churn@gold: model 'churn' has no alias 'gold'"),
        (("deploy", "x", "churn@9"), "no version 9"),
        (("deploy", "x", "nope@1"), "model 'nope' does not exist"),
        (("deploy", "x", "churn"), "must be MODEL@ALIAS or MODEL@VERSION"),
        (("deploy", "x", "churn@1", "--strategy", "canary"), "a canary needs a challenger"),
        (("deploy", "x", "churn@1", "--strategy", "shadow"), "needs a shadow target"),
        (("deploy", "x", "churn@1", "--strategy", "rainbow"), "unknown strategy 'rainbow'"),
        (("deploy", "x", "churn@1", "--strategy", "canary", "--challenger", "churn@1"), "twice"),
        (
            ("deploy", "x", "churn@1", "--strategy", "canary", "--challenger", "churn@2", "--weight", "100"),
            "between 1 and 99",
        ),
        (("deploy", "x", "churn@1", "--steps", "10"), "need --strategy canary"),
        (("deployments", "show", "nope"), "deployment 'nope' does not exist"),
        (("deployments", "promote", "nope"), "does not exist"),
    ],
)
def test_bad_input_is_one_line(args: tuple[str, ...], message: str) -> None:
    assert message in fails(*args)


def test_against_a_server_the_roles_decide(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.live_server import start_live_server

    app = build_app(load_settings(home=home))
    for user, role in (("dave", "deployer"), ("vic", "viewer")):
        app.accounts.create_user(user, role=role)
    tokens = {user: app.accounts.create_token(user).secret for user in ("dave", "vic")}
    server = start_live_server(app)
    try:
        isolate(monkeypatch, tmp_path, home=tmp_path / "client-home")
        monkeypatch.setenv("SHIPYARD_URL", server.url)
        monkeypatch.setenv("SHIPYARD_TOKEN", tokens["vic"])
        assert "may not perform deployments.write" in fails("deploy", "churn-api", "churn@champion")
        monkeypatch.setenv("SHIPYARD_TOKEN", tokens["dave"])
        deployed = ok_json(
            "deploy", "churn-api", "churn@champion", "--strategy", "shadow", "--shadow", "churn@2"
        )
        assert [t["role"] for t in deployed["targets"]] == ["primary", "shadow"]
        assert ok_json("deployments", "promote", "churn-api")["targets"][0]["version"] == 2
        assert "unknown strategy" in fails("deploy", "churn-api", "churn@1", "--strategy", "rainbow")
        monkeypatch.setenv("SHIPYARD_TOKEN", tokens["vic"])
        assert "churn@2 primary 100%" in ok("deployments", "list")
        [record] = app.audit.list(object_id="churn-api", action="deployment.promote")
        assert record.actor == "dave"
    finally:
        server.stop()
        app.close()
