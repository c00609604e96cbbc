"""The admin API over a real server: users, tokens and grants managed over HTTP land in the audit
trail with the caller as actor and the request's id; scoped grants limit what a token reaches."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from shipyard.app import App, build_app
from shipyard.audit import log
from shipyard.audit.tables import AuditRecordRow
from shipyard.config import load_settings
from shipyard.storage.metadata.base import table
from support.databases import seed_embedded_home
from support.live_server import LiveServer, client_for


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    home = seed_embedded_home(tmp_path / "home")
    app = build_app(load_settings(home=home, artifacts=str(tmp_path / "artifacts")))
    app.accounts.create_user("root", role="admin")
    yield app
    app.close()


@pytest.fixture
def root(app: App, server: LiveServer) -> Iterator[httpx.Client]:
    with client_for(app, server, "root") as client:
        yield client


def test_admin_manages_users_tokens_and_roles(app: App, server: LiveServer, root: httpx.Client) -> None:
    created = root.post(
        "/api/v1/users", json={"name": "bob", "role": "viewer"}, headers={"X-Request-ID": "r-1"}
    )
    assert created.status_code == 201 and created.json()["name"] == "bob"
    assert [u["name"] for u in root.get("/api/v1/users").json()["users"]] == ["bob", "root"]

    issued = root.post("/api/v1/users/bob/tokens", json={"name": "ci", "expires_in_seconds": 3600})
    assert issued.status_code == 201
    secret = issued.json()["secret"]
    assert secret.startswith("shp_") and issued.json()["expires_at"] is not None

    grant = root.post("/api/v1/roles", json={"user": "bob", "role": "deployer", "model": "churn"})
    assert grant.status_code == 201 and grant.json()["scope"] == "model:churn"
    assert grant.json()["granted_by"] == "root"
    grants = root.get("/api/v1/roles", params={"user": "bob"}).json()["grants"]
    assert [(g["role"], g["scope"]) for g in grants] == [("viewer", "global"), ("deployer", "model:churn")]

    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}) as bob:
        me = bob.get("/api/v1/me").json()
        assert me["user"]["name"] == "bob" and len(me["grants"]) == 2
        assert bob.get("/api/v1/users").status_code == 403  # viewers are not admins

    revoked = root.post("/api/v1/roles/revoke", json={"user": "bob", "role": "deployer", "model": "churn"})
    assert revoked.status_code == 200
    assert root.post("/api/v1/roles/revoke", json={"user": "bob", "role": "deployer"}).status_code == 404
    assert root.delete(f"/api/v1/tokens/{issued.json()['id']}").status_code == 204
    assert root.post("/api/v1/users/bob/disable").json()["disabled"] is True

    records = root.get("/api/v1/audit", params={"object_id": "bob"}).json()["records"]
    assert [(r["actor"], r["action"]) for r in records] == [
        ("root", "user.create"),
        ("root", "role.grant"),
        ("root", "role.grant"),
        ("root", "role.revoke"),
        ("root", "user.disable"),
    ]
    assert records[0]["request_id"] == "r-1" and records[1]["request_id"] == "r-1"
    assert all(r["request_id"] for r in records)  # every change made over HTTP names its request
    token_records = root.get("/api/v1/audit", params={"action": "token.*"}).json()["records"]
    assert [r["action"] for r in token_records][-2:] == ["token.create", "token.revoke"]
    assert secret not in root.get("/api/v1/audit", params={"limit": 1000}).text


def test_bad_admin_input_is_a_clear_4xx(root: httpx.Client) -> None:
    response = root.post("/api/v1/roles", json={"user": "root", "role": "emperor"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "role" and "emperor" in response.json()["error"]["message"]
    missing = root.post("/api/v1/roles", json={"user": "ghost", "role": "viewer"})
    assert missing.status_code == 404 and "ghost" in missing.json()["error"]["message"]
    assert root.post("/api/v1/users", json={"name": "root"}).status_code == 409
    assert root.post("/api/v1/me/tokens", json={"expires_in_seconds": 0}).status_code == 422
    assert root.get("/api/v1/audit", params={"limit": 0}).status_code == 422
    assert root.get("/api/v1/audit/export", params={"format": "xml"}).status_code == 422


def test_users_manage_their_own_tokens_only(app: App, server: LiveServer) -> None:
    app.accounts.create_user("carol", role="viewer")
    app.accounts.create_user("dave", role="viewer")
    dave_token = app.accounts.create_token("dave").token.id
    with client_for(app, server, "carol") as carol:
        new = carol.post("/api/v1/me/tokens", json={"name": "laptop"})
        assert new.status_code == 201 and new.json()["user"] == "carol"
        assert [t["name"] for t in carol.get("/api/v1/me/tokens").json()["tokens"]] == ["default", "laptop"]
        assert carol.delete(f"/api/v1/me/tokens/{dave_token}").status_code == 404  # not hers
        assert carol.delete(f"/api/v1/me/tokens/{new.json()['id']}").json()["revoked_at"] is not None
        assert carol.post("/api/v1/users/dave/tokens", json={}).status_code == 403
        assert carol.delete(f"/api/v1/tokens/{dave_token}").status_code == 403
    assert app.accounts.list_tokens("dave")[0].revoked_at is None


def test_audit_verify_and_export_over_http(app: App, root: httpx.Client) -> None:
    with app.db.write() as conn:
        log.append(conn, actor="root", action="model.create", object_type="model", object_id="churn")
        log.append(
            conn, actor="root", action="version.create", object_type="model_version", object_id="churn/1"
        )
        log.append(conn, actor="root", action="model.create", object_type="model", object_id="fraud")
    assert root.get("/api/v1/audit/verify").json()["valid"] is True

    exported = root.get("/api/v1/audit/export", params={"model": "churn", "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    assert [r["object_id"] for r in csv.DictReader(io.StringIO(exported.text))] == ["churn", "churn/1"]
    as_json = root.get("/api/v1/audit/export", params={"model": "churn"}).json()
    assert [r["action"] for r in as_json] == ["model.create", "version.create"]

    with app.db.write() as conn:
        records_t = table(AuditRecordRow)
        conn.execute(update(records_t).where(records_t.c.object_id == "churn/1").values(actor="mallory"))
    report = root.get("/api/v1/audit/verify").json()
    assert report["valid"] is False and report["reason"].startswith("edited")
    churn_seq = as_json[1]["seq"]
    assert report["broken_seq"] == churn_seq


def test_experiment_scoped_contributor_writes_only_there(app: App, server: LiveServer) -> None:
    churn = app.tracking.create_experiment("churn")
    app.tracking.create_experiment("fraud")
    theirs = app.tracking.create_run("fraud", user="root").id
    app.accounts.create_user("erin")
    app.accounts.grant_role("erin", "contributor", experiment="churn")
    with client_for(app, server, "erin") as erin:
        run = erin.post("/api/v1/runs", json={"experiment": churn.id})  # by id: resolved to its name
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]
        assert erin.post(f"/api/v1/runs/{run_id}/params", json={"params": {"lr": 0.1}}).status_code == 204
        assert erin.get("/api/v1/experiments/churn").status_code == 200
        assert erin.put(f"/api/v1/runs/{run_id}/artifacts/a.txt", content=b"hi").status_code == 201
        assert erin.get(f"/api/v1/runs/{run_id}/artifacts/a.txt").content == b"hi"

        assert erin.post("/api/v1/runs", json={"experiment": "fraud"}).status_code == 403
        assert erin.post(f"/api/v1/runs/{theirs}/params", json={"params": {"lr": 1}}).status_code == 403
        assert erin.get(f"/api/v1/runs/{theirs}").status_code == 403
        assert erin.get("/api/v1/experiments/fraud").status_code == 403
        denied = erin.get("/api/v1/experiments")  # lists every experiment: needs a global grant
        assert denied.status_code == 403 and "globally" in denied.json()["error"]["message"]
        new = erin.post("/api/v1/experiments", json={"name": "churn"})
        assert new.status_code == 409  # allowed to try (its own scope), and it exists already
        assert erin.post("/api/v1/experiments", json={"name": "other"}).status_code == 403


def test_sdk_in_remote_mode_works_within_an_experiment_scope(
    app: App, server: LiveServer, tmp_path: Path
) -> None:
    from shipyard.client import Client
    from shipyard.errors import PermissionDenied

    app.accounts.create_user("finn")
    app.accounts.grant_role("finn", "contributor", experiment="churn")
    secret = app.accounts.create_token("finn").secret
    (tmp_path / "model.txt").write_text("weights")
    with Client(load_settings(home=tmp_path / "client", url=server.url, token=secret)) as client:
        with client.start_run("churn") as run:  # creates the experiment: within the scope
            run.log_params({"lr": 0.1})
            run.log_metric("loss", 0.5)
            run.log_artifact(tmp_path / "model.txt")
        with pytest.raises(PermissionDenied, match=r"may not perform tracking\.read on experiment 'fraud'"):
            client.start_run("fraud")
    stored = app.tracking.get_run(run.id)
    assert stored.user == "finn" and stored.metrics["loss"].value == 0.5
