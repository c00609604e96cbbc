"""Triggers over HTTP: the REST routes and the remote SDK client against a live server, with
roles enforced, changes audited under the caller's name, errors as 4xx JSON naming the field,
and a new-data trigger on a feature view's source. Runs start through the in-memory launcher (the
launcher port's test implementation)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shipyard.app import App, build_app
from shipyard.client.remote_triggers import RemoteTriggers
from shipyard.config import load_settings
from shipyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shipyard.pipelines.triggers.model import FiringStatus, TriggerKind
from shipyard.pipelines.triggers.ports import MemoryLauncher
from shipyard.server import create_app
from support.features import driver_definitions, write_driver_stats
from support.live_server import start_live_server


@dataclass
class Api:
    app: App
    client: TestClient
    tokens: dict[str, str]
    launcher: MemoryLauncher

    def call(
        self, method: str, path: str, role: str = "contributor", body: object = None, **params: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        return self.client.request(method, path, json=body, params=params, headers=headers)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    app = build_app(load_settings(home=tmp_path / "home"))
    launcher = MemoryLauncher(pipelines={"train"})
    app.pipeline_launcher = launcher
    tokens = {}
    for role in ("viewer", "contributor"):
        app.accounts.create_user(role, role=role)
        tokens[role] = app.accounts.create_token(role).secret
    with TestClient(create_app(app), raise_server_exceptions=False) as client:
        yield Api(app, client, tokens, launcher)
    app.close()


SCHEDULE = {
    "name": "nightly",
    "pipeline": "train",
    "kind": "schedule",
    "spec": {"cron": "0 2 * * *", "timezone": "Europe/Paris"},
}


def test_lifecycle_over_rest_is_audited_under_the_caller(api: Api) -> None:
    created = api.call("POST", "/api/v1/triggers", body={**SCHEDULE, "params": {"lr": 0.1}})
    assert created.status_code == 201, created.text
    assert created.json()["spec"]["timezone"] == "Europe/Paris" and created.json()["next_check_at"]
    assert api.call("POST", "/api/v1/triggers", body=SCHEDULE).status_code == 409
    assert [t["name"] for t in api.call("GET", "/api/v1/triggers", "viewer").json()["triggers"]] == [
        "nightly"
    ]
    assert api.call("POST", "/api/v1/triggers/nightly/disable").json()["enabled"] is False
    assert api.call("POST", "/api/v1/triggers/nightly/fire", body={}).status_code == 409
    assert api.call("POST", "/api/v1/triggers/nightly/enable").json()["enabled"] is True
    fired = api.call("POST", "/api/v1/triggers/nightly/fire", body={"params": {"lr": 0.2}, "key": "k1"})
    assert fired.status_code == 200 and fired.json()["status"] == "submitted"
    assert api.launcher.runs[0].params == {"lr": 0.2} and api.launcher.runs[0].started_by == "contributor"
    start, end = "2024-05-01T00:00:00+00:00", "2024-05-03T00:00:00+00:00"
    backfilled = api.call("POST", "/api/v1/backfills", body={"pipeline": "train", "start": start, "end": end})
    assert [f["detail"]["slot"] for f in backfilled.json()["firings"]] == [
        "2024-05-01T02:00:00+02:00",
        "2024-05-02T02:00:00+02:00",
    ]
    status = api.call("GET", "/api/v1/scheduler/status", "viewer").json()["triggers"]
    assert status[0]["trigger"]["name"] == "nightly" and status[0]["pending"] == 0
    assert len(api.call("GET", "/api/v1/triggers/nightly/firings", "viewer", limit=2).json()["firings"]) == 2
    assert api.call("DELETE", "/api/v1/triggers/nightly").status_code == 204
    assert api.call("GET", "/api/v1/triggers/nightly", "viewer").status_code == 404
    records = api.app.audit.list(object_type="trigger")
    assert {r.actor for r in records} == {"contributor"}
    assert [r.action for r in records] == [
        "trigger.create",
        "trigger.disable",
        "trigger.enable",
        "trigger.fire",
        "trigger.backfill",
        "trigger.delete",
    ]


def test_patch_changes_only_what_it_names_and_is_audited(api: Api) -> None:
    body = {**SCHEDULE, "params": {"lr": 0.1}, "cooldown": 60, "max_concurrent": 2}
    assert api.call("POST", "/api/v1/triggers", body=body).status_code == 201
    patch = {"spec": {"cron": "30 4 * * 1", "timezone": "UTC"}, "params": {"lr": 0.3}, "cooldown": 600}
    changed = api.call("PATCH", "/api/v1/triggers/nightly", body=patch)
    assert changed.status_code == 200, changed.text
    out = changed.json()
    assert out["spec"]["cron"] == "30 4 * * 1" and out["spec"]["timezone"] == "UTC"
    assert out["params"] == {"lr": 0.3} and out["cooldown"] == 600
    assert out["max_concurrent"] == 2  # left out: kept
    assert datetime.fromisoformat(out["next_check_at"]).astimezone(UTC).strftime("%a %H:%M") == "Mon 04:30"
    unlimited = api.call("PATCH", "/api/v1/triggers/nightly", body={"max_concurrent": None}).json()
    assert unlimited["max_concurrent"] is None and unlimited["cooldown"] == 600
    limited = api.call("PATCH", "/api/v1/triggers/nightly", body={"max_concurrent": 1}).json()
    assert limited["max_concurrent"] == 1
    records = [r for r in api.app.audit.list(object_type="trigger") if r.action == "trigger.update"]
    assert len(records) == 3 and {r.actor for r in records} == {"contributor"}
    first = min(records, key=lambda r: r.seq)
    assert first.before["cooldown_s"] == 60 and first.after["cooldown_s"] == 600
    assert api.call("PATCH", "/api/v1/triggers/nightly", "viewer", {"cooldown": 5}).status_code == 403
    assert api.call("GET", "/api/v1/triggers/nightly").json()["cooldown"] == 600


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("nightly", {}, 422, "trigger"),
        ("nightly", {"spec": {"cron": "0 2 * *"}}, 422, "cron"),
        ("nightly", {"cooldown": -5}, 422, "cooldown"),
        ("nightly", {"max_concurrent": 0}, 422, "max_concurrent"),
        ("nightly", {"params": {f"p{i}": i for i in range(101)}}, 422, "params"),
        ("nightly", {"description": "x" * 5001}, 422, "description"),
        ("missing", {"cooldown": 5}, 404, None),
    ],
)
def test_bad_patches_are_a_4xx_naming_the_field(
    api: Api, name: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    api.call("POST", "/api/v1/triggers", body=SCHEDULE)
    response = api.call("PATCH", f"/api/v1/triggers/{name}", body=body)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in (response.json()["error"]["field"] or "")
    assert api.call("GET", "/api/v1/triggers/nightly").json()["spec"]["cron"] == "0 2 * * *"
    assert [r.action for r in api.app.audit.list(object_type="trigger")] == ["trigger.create"]


def test_viewers_read_but_cannot_change_or_run(api: Api) -> None:
    api.call("POST", "/api/v1/triggers", body=SCHEDULE)
    assert api.call("GET", "/api/v1/triggers/nightly", "viewer").status_code == 200
    for method, path, body in [
        ("POST", "/api/v1/triggers", {**SCHEDULE, "name": "other"}),
        ("POST", "/api/v1/triggers/nightly/disable", None),
        ("DELETE", "/api/v1/triggers/nightly", None),
        ("POST", "/api/v1/triggers/nightly/fire", {}),
    ]:
        response = api.call(method, path, "viewer", body)
        assert response.status_code == 403, path
        assert "pipelines." in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({**SCHEDULE, "spec": {"cron": "0 2 * *"}}, 422, "cron"),
        ({**SCHEDULE, "spec": {"cron": "0 2 * * *", "timezone": "Europe/Atlantis"}}, 422, "timezone"),
        ({**SCHEDULE, "pipeline": "nope"}, 404, "pipeline"),
        ({**SCHEDULE, "kind": "event", "spec": {"event_type": "model.melted"}}, 422, "event_type"),
        ({**SCHEDULE, "cooldown": -1}, 422, "cooldown"),
        ({**SCHEDULE, "name": "x" * 129}, 422, "name"),
        ({**SCHEDULE, "params": {f"p{i}": i for i in range(101)}}, 422, "params"),
        ({**SCHEDULE, "kind": "new_data", "spec": {"source": "feature_view", "view": "missing"}}, 404, None),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    api: Api, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = api.call("POST", "/api/v1/triggers", body=body)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in (response.json()["error"]["field"] or "")
    assert api.call("GET", "/api/v1/triggers").json()["triggers"] == []


def test_remote_sdk_gives_the_same_models_and_errors(api: Api) -> None:
    server = start_live_server(api.app)
    try:
        remote = RemoteTriggers(server.url, api.tokens["contributor"])
        trigger = remote.create(
            "retrain",
            "train",
            "event",
            {"event_type": "drift.detected", "where": {"model": "churn"}},
            cooldown=60,
            actor="ignored",
        )
        assert trigger.kind is TriggerKind.EVENT and trigger.created_by == "contributor"
        assert remote.get("retrain").spec == trigger.spec
        firing = remote.fire("retrain", {"reason": "manual"}, key="once", actor="ignored")
        assert firing.status is FiringStatus.SUBMITTED
        assert remote.fire("retrain", {"reason": "manual"}, key="once", actor="ignored").id == firing.id
        assert [f.id for f in remote.firings("retrain")] == [firing.id]
        updated = remote.update("retrain", cooldown=120, max_concurrent=3, actor="ignored")
        assert (updated.cooldown_s, updated.max_concurrent, updated.spec) == (120, 3, trigger.spec)
        assert remote.update("retrain", max_concurrent=None, actor="ignored").max_concurrent is None
        assert remote.update("retrain", params={"k": 1}, actor="ignored").cooldown_s == 120
        with pytest.raises(InvalidInput, match="nothing to change"):
            remote.update("retrain", actor="ignored")
        assert remote.set_enabled("retrain", False, actor="ignored").enabled is False
        with pytest.raises(Conflict):
            remote.fire("retrain", actor="ignored")
        with pytest.raises(InvalidInput) as bad:
            remote.create("x", "train", "schedule", {"cron": "nope"}, actor="ignored")
        assert bad.value.field is not None and "cron" in bad.value.field
        assert [s.trigger.name for s in remote.status()] == ["retrain"]
        remote.delete("retrain", actor="ignored")
        with pytest.raises(NotFound):
            remote.get("retrain")
        with pytest.raises(PermissionDenied):
            RemoteTriggers(server.url, api.tokens["viewer"]).fire("retrain", actor="ignored")
        remote.close()
    finally:
        server.stop()


def test_feature_view_source_gaining_files_fires(api: Api, tmp_path: Path) -> None:
    data = tmp_path / "data"
    api.app.features.apply(driver_definitions(write_driver_stats(data), ttl=None), actor="admin")
    body = {
        "name": "fresh",
        "pipeline": "train",
        "kind": "new_data",
        "spec": {"source": "feature_view", "view": "driver_stats", "poll_seconds": 1},
    }
    assert api.call("POST", "/api/v1/triggers", body=body).status_code == 201
    scheduler = api.app.scheduler()
    now = datetime.now(UTC)
    scheduler.tick(now)  # sets the watermark
    assert api.launcher.runs == []
    frame = pd.read_parquet(data / "driver_stats.parquet")
    frame.to_parquet(data / "driver_stats.parquet", index=False)  # rewritten: new data
    scheduler.tick(now + timedelta(seconds=2))
    scheduler.tick(now + timedelta(seconds=4))
    assert len(api.launcher.runs) == 1 and api.launcher.runs[0].started_by == "trigger:fresh"
