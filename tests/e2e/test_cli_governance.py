"""``shipyard users|roles|audit`` end to end: bootstrapping an admin, granting scoped roles, and an
audit trail that ``audit verify`` checks (exit 1 naming the broken record) and ``audit export``
writes out for one model."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from shipyard.app import build_app
from shipyard.audit import log
from shipyard.audit.tables import AuditRecordRow
from shipyard.config import load_settings
from shipyard.storage.metadata.base import table
from support.cli import fails, invoke, isolate, ok
from support.databases import seed_embedded_home

records_t = table(AuditRecordRow)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(
        monkeypatch, tmp_path, home=seed_embedded_home(tmp_path / "home"), user="ops"
    )  # the actor the CLI records
    return tmp_path / "home"


def _model_history(home: Path) -> None:
    """Registry-like records, written the way the registry writes them."""
    app = build_app(load_settings(home=home))
    with app.db.write() as conn:
        log.append(conn, actor="ops", action="model.create", object_type="model", object_id="churn")
        log.append(
            conn, actor="ops", action="version.create", object_type="model_version", object_id="churn/1"
        )
        log.append(
            conn,
            actor="ops",
            action="alias.set",
            object_type="alias",
            object_id="churn/champion",
            after={"version": 1},
        )
        log.append(conn, actor="ops", action="model.create", object_type="model", object_id="churner")
    app.close()


def test_bootstrap_an_admin_and_grant_scoped_roles() -> None:
    ok("users", "create", "root", "--role", "admin")
    ok("users", "create", "dana")
    assert "dana" in ok("roles", "grant", "dana", "deployer", "--model", "churn")
    ok("roles", "grant", "dana", "viewer")
    grants = json.loads(ok("roles", "list", "--json"))
    assert [(g["user"], g["role"], g["scope"], g["granted_by"]) for g in grants] == [
        ("dana", "viewer", "global", "ops"),
        ("dana", "deployer", "model:churn", "ops"),
        ("root", "admin", "global", "ops"),
    ]
    table = ok("roles", "list", "dana")
    assert "model:churn" in table and "root" not in table

    assert "unknown role 'boss'" in fails("roles", "grant", "dana", "boss")
    assert "user 'nobody' does not exist" in fails("roles", "grant", "nobody", "viewer")
    assert "not both" in fails("roles", "grant", "dana", "viewer", "--model", "a", "--experiment", "b")
    assert "does not hold role 'deployer'" in fails("roles", "revoke", "dana", "deployer")
    ok("roles", "revoke", "dana", "deployer", "--model", "churn")
    assert "model:churn" not in ok("roles", "list", "dana")
    ok("users", "disable", "dana")
    assert json.loads(ok("users", "list", "--json"))[0]["disabled"] is True

    actions = [r["action"] for r in json.loads(ok("audit", "list", "--json"))]
    assert actions == [
        "user.create",
        "role.grant",
        "user.create",
        "role.grant",
        "role.grant",
        "role.revoke",
        "user.disable",
    ]
    assert "role.revoke" in ok("audit", "list", "--actor", "ops", "--action", "role.*")


def test_audit_verify_names_the_broken_record(home: Path) -> None:
    ok("users", "create", "root", "--role", "admin")
    _model_history(home)
    assert "intact: 6 records" in ok("audit", "verify")
    assert json.loads(ok("audit", "verify", "--json"))["valid"] is True

    app = build_app(load_settings(home=home))
    with app.db.write() as conn:
        conn.execute(update(records_t).where(records_t.c.seq == 4).values(actor="mallory"))
    line = fails("audit", "verify")
    assert "record 4" in line and "edited" in line
    with app.db.write() as conn:
        conn.execute(delete(records_t).where(records_t.c.seq >= 4))
    line = fails("audit", "verify")
    assert "record 4" in line and "deleted" in line
    app.close()


def test_audit_export_one_model(home: Path, tmp_path: Path) -> None:
    _model_history(home)
    rows = list(csv.DictReader(io.StringIO(ok("audit", "export", "--model", "churn", "--format", "csv"))))
    assert [r["object_id"] for r in rows] == ["churn", "churn/1", "churn/champion"]
    target = tmp_path / "churn.json"
    result = invoke("audit", "export", "--model", "churn", "--format", "json", "--output", str(target))
    assert result.exit_code == 0 and "Wrote 3 records" in result.stderr
    exported = json.loads(target.read_text())
    assert [r["action"] for r in exported] == ["model.create", "version.create", "alias.set"]
    assert exported[2]["after"] == {"version": 1}
    assert "'csv' or 'json'" in fails("audit", "export", "--model", "churn", "--format", "xml")


def test_governance_commands_refuse_remote_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_URL", "http://127.0.0.1:9")
    assert "SHIPYARD_URL" in fails("audit", "verify")
    assert "SHIPYARD_URL" in fails("roles", "list")
