"""The feature store over HTTP: catalog reads, online reads with per-row statuses, pushes; roles
enforced; user mistakes are 4xx JSON errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.features.model import Entity, FeatureView, PushSource
from shipyard.server import create_app
from support.features import T0, driver_definitions, write_driver_stats


@dataclass
class Api:
    app: App
    client: TestClient
    tokens: dict[str, str]

    def get(self, path: str, role: str = "viewer", **params: Any) -> Any:
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def post(self, path: str, body: object, role: str = "viewer") -> Any:
        return self.client.post(path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"})


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    app = build_app(load_settings(home=tmp_path / "home"))
    tokens = {}
    for role in ("viewer", "contributor"):
        app.accounts.create_user(role, role=role)
        tokens[role] = app.accounts.create_token(role).secret
    store = app.features
    rider = Entity("rider", {"rider_id": "int64"})
    clicks = FeatureView(
        "rider_clicks",
        entities=[rider],
        features={"clicks": "int64", "last_page": "string"},
        source=PushSource(
            "clicks_push",
            {"rider_id": "int64", "event_timestamp": "timestamp", "clicks": "int64", "last_page": "string"},
        ),
        owner="web",
    )
    store.apply(
        [*driver_definitions(write_driver_stats(tmp_path / "data"), ttl=None), rider, clicks], actor="admin"
    )
    store.materialize(T0, T0 + timedelta(days=1))
    with TestClient(create_app(app), raise_server_exceptions=False) as client:
        yield Api(app, client, tokens)
    app.close()


def test_catalog_reads(api: Api) -> None:
    views = api.get("/api/v1/features/views").json()["definitions"]
    assert [(v["kind"], v["name"]) for v in views] == [
        ("feature_view", "driver_stats"),
        ("feature_view", "rider_clicks"),
        ("on_demand_feature_view", "driver_fare"),
    ]
    owned = api.get("/api/v1/features/views", owner="web").json()["definitions"]
    assert [v["name"] for v in owned] == ["rider_clicks"]
    tagged = api.get("/api/v1/features/views", tag=["tier=gold"]).json()["definitions"]
    assert [v["name"] for v in tagged] == ["driver_stats"]
    entities = api.get("/api/v1/features/views", kind="entity").json()["definitions"]
    assert [v["name"] for v in entities] == ["driver", "rider"]

    described = api.get("/api/v1/features/views/driver_stats").json()
    assert described["version"] == 1 and described["spec"]["source"]["type"] == "file"
    assert described["materialized_until"] == "2026-01-02T00:00:00Z"
    assert {s["feature"] for s in described["statistics"]} == {"trips", "rating", "city"}
    assert [s["name"] for s in api.get("/api/v1/features/services").json()["definitions"]] == ["eta_model"]
    assert [d["name"] for d in api.get("/api/v1/features/search", q="hourly").json()["definitions"]] == [
        "driver_stats"
    ]

    missing = api.get("/api/v1/features/views/nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
    bad_tag = api.get("/api/v1/features/views", tag=["gold"])
    assert bad_tag.status_code == 422 and bad_tag.json()["error"]["field"] == "tag"


def test_online_reads_with_statuses_and_on_demand_features(api: Api) -> None:
    response = api.post(
        "/api/v1/features/online",
        {
            "service": "eta_model",
            "entities": [{"driver_id": 1}, {"driver_id": 99}],
            "request_data": {"fare": [2.0, 3.0]},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"]["driver_id"] == [1, 99]
    assert body["columns"]["trips"] == [118, None]
    assert body["columns"]["rating_x_fare"][0] == pytest.approx(2.0 * (4.1 + 0.18))
    assert [s["trips"] for s in body["statuses"]] == ["present", "not_found"]

    named = api.post(
        "/api/v1/features/online",
        {"features": ["driver_stats:city"], "entities": [{"driver_id": 2}], "full_feature_names": True},
    ).json()
    assert named["columns"]["driver_stats__city"] == ["lyon"]

    unknown = api.post(
        "/api/v1/features/online", {"features": ["driver_stats:speed"], "entities": [{"driver_id": 1}]}
    )
    assert unknown.status_code == 422 and "has no feature 'speed'" in unknown.json()["error"]["message"]
    neither = api.post("/api/v1/features/online", {"entities": [{"driver_id": 1}]})
    assert neither.status_code == 422
    no_entities = api.post("/api/v1/features/online", {"features": ["driver_stats:trips"]})
    assert no_entities.status_code == 422 and no_entities.json()["error"]["field"] == "body.entities"


def test_push_needs_write_and_is_served_online(api: Api) -> None:
    rows = [
        {"rider_id": 7, "event_timestamp": "2026-03-01T10:00:00Z", "clicks": 3, "last_page": "/home"},
        {"rider_id": 8, "event_timestamp": "2026-03-01T10:05:00+00:00", "clicks": 9, "last_page": "/cart"},
    ]
    denied = api.post("/api/v1/features/push", {"source": "clicks_push", "rows": rows})
    assert denied.status_code == 403
    pushed = api.post("/api/v1/features/push", {"source": "clicks_push", "rows": rows}, role="contributor")
    assert pushed.status_code == 200, pushed.text
    assert pushed.json() == {"source": "clicks_push", "rows": 2}
    served = api.post(
        "/api/v1/features/online",
        {"features": ["rider_clicks"], "entities": [{"rider_id": 8}, {"rider_id": 7}]},
    ).json()
    assert served["columns"]["clicks"] == [9, 3] and served["columns"]["last_page"] == ["/cart", "/home"]

    wrong = api.post(
        "/api/v1/features/push",
        {"source": "clicks_push", "rows": [{**rows[0], "clicks": "many"}]},
        role="contributor",
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "clicks"
    unknown = api.post("/api/v1/features/push", {"source": "nope", "rows": rows}, role="contributor")
    assert unknown.status_code == 404


def test_the_sdk_reads_and_pushes_through_a_server(api: Api) -> None:
    from datetime import UTC, datetime

    from shipyard.client import Client
    from shipyard.errors import ConfigError, InvalidInput, NotFound, PermissionDenied
    from support.live_server import start_live_server

    with start_live_server(api.app) as server:
        settings = load_settings(home=api.app.settings.home, url=server.url, token=api.tokens["contributor"])
        with Client(settings) as client:
            serving = client.feature_serving
            got = serving.get_online_features(
                service="eta_model",
                entity_rows=[{"driver_id": 1}, {"driver_id": 5}],
                request_data={"fare": [1.0, 1.0]},
            )
            local = api.app.features.get_online_features(
                service="eta_model",
                entity_rows=[{"driver_id": 1}, {"driver_id": 5}],
                request_data={"fare": [1.0, 1.0]},
            )
            assert got == local  # the same answer in process and over HTTP
            pushed = serving.push_records(
                "clicks_push",
                [
                    {
                        "rider_id": 3,
                        "event_timestamp": datetime(2026, 3, 1, tzinfo=UTC),
                        "clicks": 1,
                        "last_page": "/",
                    }
                ],
            )
            assert pushed == 1
            assert serving.get_online_features(
                ["rider_clicks:clicks"], entity_rows=[{"rider_id": 3}]
            ).columns["clicks"] == [1]
            kinds = [(d.kind, d.name) for d in serving.list_definitions()]
            assert kinds == [(d.kind, d.name) for d in api.app.features.list_definitions()]
            assert [d.name for d in serving.list_definitions(kind="entity")] == ["driver", "rider"]
            assert [d.name for d in serving.search("hourly")] == ["driver_stats"]
            with pytest.raises(InvalidInput, match="has no feature 'speed'"):
                serving.get_online_features(["driver_stats:speed"], entity_rows=[{"driver_id": 1}])
            with pytest.raises(NotFound):
                serving.push_records("nope", [{"x": 1}])
            with pytest.raises(ConfigError, match="feature store SDK"):
                client.features.apply([], actor="x")
        viewer = load_settings(home=api.app.settings.home, url=server.url, token=api.tokens["viewer"])
        with Client(viewer) as client, pytest.raises(PermissionDenied, match=r"features\.write"):
            client.feature_serving.push_records("clicks_push", [{"rider_id": 1}])
