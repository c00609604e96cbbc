"""The event log over a real server: GET /api/v1/events with filters and bounds, the remote SDK
client (same results as in process), and who may read (a global grant; scoped grants are not enough)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shipyard.app import App, build_app
from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.core.events import Event
from shipyard.errors import InvalidInput, PermissionDenied
from shipyard.events import log
from support.live_server import LiveServer, start_live_server


@dataclass(frozen=True)
class Deployed(Event):
    TYPE = "deployment.changed"
    model: str
    version: int


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    home: Path = tmp_path_factory.mktemp("events-api")
    app = build_app(load_settings(home=home, artifacts=str(home / "artifacts")))
    app.accounts.create_user("vera", role="viewer")
    app.accounts.create_user("scoped")
    app.accounts.grant_role("scoped", "admin", model="churn")
    with app.db.write() as conn:
        for version in range(1, 6):
            log.publish(conn, Deployed("churn" if version % 2 else "fraud", version), actor="dave")
    yield app
    app.close()


@pytest.fixture(scope="module")
def server(app: App) -> Iterator[LiveServer]:
    server = start_live_server(app)
    yield server
    server.stop()


def http(app: App, server: LiveServer, user: str) -> httpx.Client:
    secret = app.accounts.create_token(user).secret
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture(scope="module")
def viewer(app: App, server: LiveServer) -> Iterator[httpx.Client]:
    with http(app, server, "vera") as client:
        yield client


def test_a_viewer_lists_events_with_filters_and_pages(viewer: httpx.Client) -> None:
    body = viewer.get("/api/v1/events", params={"limit": 2}).json()
    assert [e["seq"] for e in body["events"]] == [1, 2] and body["next_after"] == 2
    assert body["events"][0] == {
        "seq": 1,
        "id": body["events"][0]["id"],
        "type": "deployment.changed",
        "at": body["events"][0]["at"],
        "actor": "dave",
        "payload": {"model": "churn", "version": 1},
        "request_id": None,
    }
    rest = viewer.get("/api/v1/events", params={"after": 2}).json()
    assert [e["seq"] for e in rest["events"]] == [3, 4, 5] and rest["next_after"] == 5
    churn = viewer.get("/api/v1/events", params=[("type", "deployment.*"), ("where", "model=churn")]).json()
    assert [e["payload"]["version"] for e in churn["events"]] == [1, 3, 5]
    one = viewer.get("/api/v1/events", params=[("where", "model=churn"), ("where", "version=3")]).json()
    assert [e["seq"] for e in one["events"]] == [3]
    newest = viewer.get("/api/v1/events", params={"limit": 2, "newest": "true"}).json()
    assert [e["seq"] for e in newest["events"]] == [4, 5] and newest["next_after"] == 5
    assert viewer.get("/api/v1/events", params={"type": "model.promoted"}).json()["events"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"after": -1}, "after"),
        ({"after": 2**63}, "after"),
        ({"type": "Not A Type"}, "type"),
        ({"where": "novalue"}, "where"),
        ({"where": "bad key=1"}, "where"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    viewer: httpx.Client, params: dict[str, object], field: str
) -> None:
    response = viewer.get("/api/v1/events", params=params)  # type: ignore[arg-type]
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "InvalidInput" and field in (error["field"] or "") + error["message"]


def test_too_many_type_patterns_are_refused(viewer: httpx.Client) -> None:
    response = viewer.get("/api/v1/events", params=[("type", f"t{i}.x") for i in range(21)])
    assert response.status_code == 422


def test_scoped_grants_do_not_reach_the_event_log(app: App, server: LiveServer) -> None:
    with http(app, server, "scoped") as client:
        response = client.get("/api/v1/events")
    assert response.status_code == 403
    assert "events.read" in response.json()["error"]["message"]
    assert httpx.get(f"{server.url}/api/v1/events").status_code == 401


def test_the_remote_sdk_reads_what_the_embedded_one_reads(
    app: App, server: LiveServer, tmp_path: Path
) -> None:
    secret = app.accounts.create_token("vera").secret
    remote = Client(load_settings(home=tmp_path, url=server.url, token=secret))
    try:
        expected = app.events.list(where={"model": "churn"})
        assert remote.events.list(where={"model": "churn"}) == expected
        assert [e.seq for e in remote.events.tail(last=2)] == [4, 5]
        with pytest.raises(InvalidInput) as bad:
            remote.events.list(limit=5000)
        assert "limit" in (bad.value.field or "")  # the server answers at most 1000 per request
    finally:
        remote.close()
    scoped = Client(
        load_settings(home=tmp_path, url=server.url, token=app.accounts.create_token("scoped").secret)
    )
    try:
        with pytest.raises(PermissionDenied):
            scoped.events.list()
    finally:
        scoped.close()
