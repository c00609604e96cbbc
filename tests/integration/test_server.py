"""The REST server through a real uvicorn on 127.0.0.1: authentication, error envelopes, uploads,
telemetry; and the remote client's mapping of error responses back to ``shipyard.errors``."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from shipyard.app import App, build_app
from shipyard.client.remote_tracking import RemoteTracking
from shipyard.config import load_settings
from shipyard.errors import (
    AlreadyExists,
    BackendUnavailable,
    ConfigError,
    Conflict,
    CorruptArtifact,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ShipyardError,
    Unauthenticated,
)
from shipyard.server import create_app, serve
from shipyard.storage.metadata.database import Database
from support.databases import seed_embedded_home
from support.live_server import LiveServer

USER = "alice"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(load_settings(home=seed_embedded_home(tmp_path / "home")))
    app.accounts.create_user(USER, role="admin")
    yield app
    app.close()


@pytest.fixture
def token(app: App) -> str:
    return app.accounts.create_token(USER, name="laptop").secret


@pytest.fixture
def http(server: LiveServer, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def anonymous(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url) as client:
        yield client


@pytest.fixture
def run_id(app: App) -> str:
    app.tracking.create_experiment("churn")
    return app.tracking.create_run("churn").id


def error_of(response: httpx.Response) -> dict[str, str | None]:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message", "field"}
    return body["error"]  # type: ignore[no-any-return]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- health, docs, request ids ------------------------------------------------------------------


def test_health_answers_without_a_token(anonymous: httpx.Client) -> None:
    response = anonymous.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["version"]


def test_health_is_503_when_the_database_is_down(
    app: App, anonymous: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real database nobody listens on (port 9, "discard"), swapped in while the server runs.
    monkeypatch.setattr(app, "db", Database("postgresql+psycopg://nobody:secret@127.0.0.1:9/none"))
    # /health answers from the last probe, which is at most half a second old.
    deadline = time.monotonic() + 10
    while (response := anonymous.get("/health")).status_code == 200 and time.monotonic() < deadline:
        pass
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert "secret" not in response.text


def test_docs_and_openapi_need_no_token(anonymous: httpx.Client) -> None:
    assert anonymous.get("/docs").status_code == 200
    spec = anonymous.get("/openapi.json").json()
    assert "/api/v1/runs/search" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_request_id_is_echoed_or_generated(http: httpx.Client) -> None:
    assert http.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = http.get("/api/v1/experiments").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert len({generated, *(http.get("/api/v1/experiments").headers["X-Request-ID"] for _ in range(3))}) == 4
    assert http.get("/api/v1/experiments/nope").headers["X-Request-ID"]  # error responses carry it too


# -- authentication -----------------------------------------------------------------------------


def assert_unauthenticated(response: httpx.Response, message: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = error_of(response)
    assert error["type"] == "Unauthenticated"
    assert message in (error["message"] or "")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing bearer token"),
        ("Bearer shp_not-a-real-token", "invalid token"),
        ("Bearer", "missing bearer token"),
        ("Basic YWxpY2U6cHc=", "missing bearer token"),
    ],
)
def test_missing_or_wrong_token_is_401(anonymous: httpx.Client, header: str | None, message: str) -> None:
    headers = {"Authorization": header} if header else {}
    assert_unauthenticated(anonymous.get("/api/v1/experiments", headers=headers), message)


def test_expired_token_is_401(app: App, anonymous: httpx.Client) -> None:
    secret = app.accounts.create_token(USER, expires_in=timedelta(milliseconds=50)).secret
    time.sleep(0.1)
    assert_unauthenticated(
        anonymous.get("/api/v1/experiments", headers={"Authorization": f"Bearer {secret}"}), "expired"
    )


def test_revoked_token_is_401(app: App, anonymous: httpx.Client) -> None:
    issued = app.accounts.create_token(USER)
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert anonymous.get("/api/v1/experiments", headers=headers).status_code == 200
    app.accounts.revoke_token(issued.token.id)
    assert_unauthenticated(anonymous.get("/api/v1/experiments", headers=headers), "revoked")


def test_every_route_but_health_and_docs_requires_a_token(app: App, anonymous: httpx.Client) -> None:
    paths = create_app(app).openapi()["paths"]
    checked = 0
    for path, operations in paths.items():
        if path == "/health":
            continue
        url = re.sub(r"\{[^}]+\}", "x", path)
        for method in operations:
            response = anonymous.request(method, url, params={"key": "k", "subject": "s"})
            assert_unauthenticated(response, "missing bearer token")
            checked += 1
    assert checked >= 20


# -- errors -------------------------------------------------------------------------------------


def test_unknown_experiment_is_404(http: httpx.Client) -> None:
    response = http.get("/api/v1/experiments/nope")
    assert response.status_code == 404
    assert error_of(response) == {
        "type": "NotFound",
        "message": "experiment 'nope' does not exist",
        "field": "experiment",
    }


def test_malformed_filter_is_422_naming_the_filter(http: httpx.Client, run_id: str) -> None:
    response = http.post("/api/v1/runs/search", json={"filter": "metrics.acc >>> 0.5"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["type"] == "InvalidInput" and error["field"] == "filter"
    assert "filter" in (error["message"] or "")


def test_non_numeric_metric_value_is_422_naming_the_point(http: httpx.Client, run_id: str) -> None:
    points = [["loss", 0.5, 0, 1], ["loss", 0.4, 1, 2], ["loss", 0.3, 2, 3], ["loss", "low", 3, 4]]
    response = http.post(f"/api/v1/runs/{run_id}/metrics", json={"points": points})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "body.points[3][1]"
    assert (error["message"] or "").startswith("body.points[3][1]: Input should be a valid number")
    assert http.get(f"/api/v1/runs/{run_id}/metrics", params={"key": "loss"}).json()["points"] == []


def test_non_finite_metric_values_travel_as_strings(http: httpx.Client, run_id: str) -> None:
    points = [
        ["loss", "NaN", 0, 1],
        ["loss", None, 1, 2],
        ["loss", "Infinity", 2, 3],
        ["loss", "-Infinity", 3, 4],
    ]
    assert http.post(f"/api/v1/runs/{run_id}/metrics", json={"points": points}).json() == {"stored": 4}
    history = http.get(f"/api/v1/runs/{run_id}/metrics", params={"key": "loss"}).json()
    assert [p[0] for p in history["points"]] == ["NaN", "NaN", "Infinity", "-Infinity"]


def test_unexpected_errors_are_500_without_details(
    app: App, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr(app.tracking, "list_experiments", broken)
    response = http.get("/api/v1/experiments", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    error = error_of(response)
    assert error["type"] == "InternalError" and "req-42" in (error["message"] or "")
    assert "hunter2" not in response.text and "Traceback" not in response.text


def test_the_server_refuses_to_start_in_remote_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SHIPYARD_URL"):
        serve(load_settings(home=tmp_path, url="http://elsewhere:8000"))


# -- runs and artifacts -------------------------------------------------------------------------


def test_run_user_is_the_token_user(http: httpx.Client, app: App) -> None:
    app.tracking.create_experiment("churn")
    response = http.post("/api/v1/runs", json={"experiment": "churn", "user": "mallory"})
    assert response.status_code == 201
    assert response.json()["user"] == USER
    assert app.tracking.get_run(response.json()["id"]).user == USER


def test_upload_then_download_by_path_and_by_digest(http: httpx.Client, run_id: str) -> None:
    data = b"\x00model bytes\xff" * 100_000
    response = http.put(
        f"/api/v1/runs/{run_id}/artifacts/models/model.bin",
        content=data,
        headers={"X-Content-SHA256": sha256(data)},
    )
    assert response.status_code == 201, response.text
    assert response.json()["digest"] == sha256(data) and response.json()["size"] == len(data)
    by_path = http.get(f"/api/v1/runs/{run_id}/artifacts/models/model.bin")
    by_digest = http.get(f"/api/v1/blobs/{sha256(data)}")
    for download in (by_path, by_digest):
        assert download.status_code == 200
        assert download.content == data and download.headers["X-Content-SHA256"] == sha256(data)


@pytest.mark.parametrize("path", ["%2E%2E/x", "a/%2E%2E/%2E%2E/x", "../x"])
def test_path_traversal_upload_is_rejected_and_nothing_is_stored(
    http: httpx.Client, app: App, run_id: str, path: str
) -> None:
    data = b"escape"
    response = http.put(
        f"/api/v1/runs/{run_id}/artifacts/{path}", content=data, headers={"X-Content-SHA256": sha256(data)}
    )
    assert 400 <= response.status_code < 500
    error_of(response)
    assert app.tracking.list_artifacts(run_id) == []
    assert not app.content.exists(sha256(data))


def test_upload_with_wrong_digest_is_rejected_and_nothing_is_stored(
    http: httpx.Client, app: App, run_id: str
) -> None:
    data = b"the real bytes"
    response = http.put(
        f"/api/v1/runs/{run_id}/artifacts/a.txt",
        content=data,
        headers={"X-Content-SHA256": sha256(b"other bytes")},
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["type"] == "CorruptArtifact" and error["field"] == "digest"
    assert app.tracking.list_artifacts(run_id) == []
    assert not app.content.exists(sha256(data))


# -- telemetry ----------------------------------------------------------------------------------


def sample(text: str, name: str, **labels: str) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(f"{name}{{{selector}}}" if labels else name) + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name} {labels} not in /metrics"
    return float(match.group(1))


def test_metrics_need_a_token_and_count_requests_and_work(
    http: httpx.Client, anonymous: httpx.Client, app: App
) -> None:
    assert_unauthenticated(anonymous.get("/metrics"), "missing bearer token")
    app.tracking.create_experiment("churn")
    run = http.post("/api/v1/runs", json={"experiment": "churn"}).json()
    http.post(f"/api/v1/runs/{run['id']}/metrics", json={"points": [["a", 1, 0, 1], ["a", 2, 1, 2]]})
    http.put(f"/api/v1/runs/{run['id']}/artifacts/x.bin", content=b"12345")
    http.get(f"/api/v1/runs/{run['id']}")
    http.get("/api/v1/experiments/nope")

    response = http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert sample(text, "shipyard_runs_created_total") == 1
    assert sample(text, "shipyard_metric_points_ingested_total") == 2
    assert sample(text, "shipyard_artifact_bytes_uploaded_total") == 5
    assert (
        sample(
            text, "shipyard_http_requests_total", method="GET", route="/api/v1/runs/{run_id}", status="200"
        )
        == 1
    )
    assert (
        sample(
            text,
            "shipyard_http_requests_total",
            method="GET",
            route="/api/v1/experiments/{name_or_id:path}",
            status="404",
        )
        == 1
    )
    assert (
        sample(
            text,
            "shipyard_http_request_duration_seconds_count",
            method="POST",
            route="/api/v1/runs",
            status="201",
        )
        == 1
    )


# -- the remote client --------------------------------------------------------------------------


def test_remote_client_raises_the_servers_exception_classes(
    server: LiveServer, token: str, tmp_path: Path
) -> None:
    with RemoteTracking(server.url, token) as remote:
        with pytest.raises(NotFound, match="'nope' does not exist") as not_found:
            remote.get_experiment("nope")
        assert not_found.value.field == "experiment"
        remote.create_experiment("churn")
        with pytest.raises(AlreadyExists, match="churn"):
            remote.create_experiment("churn")
        run = remote.create_run("churn")
        assert run.user == USER
        remote.log_params(run.id, {"lr": 0.1})
        with pytest.raises(Conflict, match="immutable"):
            remote.log_params(run.id, {"lr": 0.2})
        with pytest.raises(InvalidInput) as bad_filter:
            remote.search_runs(filter="metrics.acc >>> 1")
        assert bad_filter.value.field == "filter"
        with pytest.raises(InvalidInput, match="escapes"):
            remote.download_artifact(run.id, "../etc/passwd", tmp_path / "passwd")
        assert not (tmp_path / "passwd").exists()
    with RemoteTracking(server.url, "shp_wrong") as stranger, pytest.raises(Unauthenticated):
        stranger.list_experiments()


def test_remote_client_reports_an_unreachable_server(server: LiveServer, token: str) -> None:
    url = server.url
    server.stop()
    with (
        RemoteTracking(url, token, timeout=2) as remote,
        pytest.raises(BackendUnavailable, match=re.escape(url)),
    ):
        remote.list_experiments()


@pytest.mark.parametrize(
    ("status", "kind", "cls"),
    [
        (422, "InvalidInput", InvalidInput),
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (401, "Unauthenticated", Unauthenticated),
        (403, "PermissionDenied", PermissionDenied),
        (422, "CorruptArtifact", CorruptArtifact),
        (500, "CorruptArtifact", CorruptArtifact),
        (503, "BackendUnavailable", BackendUnavailable),
        (500, "ConfigError", ConfigError),
        (500, "InternalError", ShipyardError),
    ],
)
def test_remote_client_maps_every_error_type(status: int, kind: str, cls: type[ShipyardError]) -> None:
    body = {"error": {"type": kind, "message": f"{kind} happened", "field": "name"}}
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    remote = RemoteTracking("http://shipyard.test", "shp_x", transport=transport)
    with remote, pytest.raises(cls, match=f"{kind} happened") as raised:
        remote.get_experiment("churn")
    assert type(raised.value) is cls and raised.value.field == "name"


def test_remote_client_maps_a_bare_error_status() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    remote = RemoteTracking("http://shipyard.test", None, transport=transport)
    with remote, pytest.raises(BackendUnavailable, match="502"):
        remote.list_experiments()
