"""The metric write fast path (``shipyard.server.ingest``) through a real uvicorn, on SQLite and
PostgreSQL: once a token has written to a run through the route, its next writes are answered in
front of the framework with the route's own answers; anything unusual still gets the route's
refusal; a revoked token or role counts at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.storage.metadata.database import Database
from support.databases import fresh_postgres_database
from support.live_server import LiveServer, client_for

NOW = 1_700_000_000_000


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    def build(url: str) -> App:
        db = Database(url)
        runner.upgrade(db)
        db.engine.dispose()
        app = build_app(load_settings(home=tmp_path, db_url=url, artifacts=str(tmp_path / "artifacts")))
        app.accounts.create_user("ann", role="admin")
        app.accounts.create_user("bob")
        app.accounts.grant_role("bob", "contributor", experiment="churn")
        return app

    if request.param == "sqlite":
        app = build(f"sqlite:///{tmp_path / 'shipyard.db'}")
        yield app
        app.close()
        return
    with fresh_postgres_database() as url:
        app = build(url)
        yield app
        app.close()


def _fast_answers(http: httpx.Client) -> float:
    text = http.get("/metrics").text
    found = re.search(r"^shipyard_metric_writes_fast_path_total (\S+)$", text, re.MULTILINE)
    assert found is not None, "the fast path's counter is missing from /metrics"
    return float(found.group(1))


def _points(key: str, start: int, n: int) -> list[list[object]]:
    return [[key, 0.5 + i / 10, start + i, NOW + i] for i in range(n)]


def test_a_writer_s_second_batch_is_answered_by_the_fast_path_like_the_route(
    app: App, server: LiveServer
) -> None:
    app.tracking.create_experiment("churn")
    run = app.tracking.create_run("churn").id
    with client_for(app, server, "ann") as http:
        url = f"/api/v1/runs/{run}/metrics"
        first = http.post(url, json={"points": _points("loss", 0, 3)})
        assert first.status_code == 200 and first.json() == {"stored": 3}
        assert _fast_answers(http) == 0  # the route checked the token on this run

        second = http.post(url, json={"points": _points("loss", 3, 100)}, headers={"X-Request-ID": "abc-1"})
        assert second.status_code == 200 and second.json() == {"stored": 100}
        assert _fast_answers(http) == 1
        for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
            assert second.headers[name] == first.headers[name]
        assert second.headers["X-Request-ID"] == "abc-1"
        assert second.headers["content-type"] == "application/json"

        # A retried batch id stores nothing twice; the same id with other points is refused.
        batch = {"points": _points("acc", 0, 5), "batch_id": "b-1"}
        assert http.post(url, json=batch).json() == {"stored": 5}
        assert http.post(url, json=batch).json() == {"stored": 0}
        clash = http.post(url, json={"points": _points("acc", 9, 5), "batch_id": "b-1"})
        assert clash.status_code == 409 and clash.json()["error"]["field"] == "batch_id"
        assert _fast_answers(http) == 4

        history = app.tracking.metric_history(run, "loss")
        assert [m.step for m in history] == list(range(103))
        assert app.tracking.get_run(run).metrics["loss"].step == 102  # the latest value kept
        counted = http.get("/metrics").text
        assert 'route="/api/v1/runs/{run_id}/metrics",status="200"} 4.0' in counted
        assert 'route="/api/v1/runs/{run_id}/metrics",status="409"} 1.0' in counted
        assert "shipyard_metric_points_ingested_total 108.0" in counted


def test_what_the_fast_path_does_not_take_gets_the_route_s_answer(app: App, server: LiveServer) -> None:
    app.tracking.create_experiment("churn")
    run = app.tracking.create_run("churn").id
    with client_for(app, server, "ann") as http:
        url = f"/api/v1/runs/{run}/metrics"
        assert http.post(url, json={"points": _points("loss", 0, 1)}).status_code == 200
        # Non-finite values as strings, and null, are the route's: stored as NaN/inf.
        odd = http.post(
            url,
            json={"points": [["loss", "NaN", 1, NOW], ["loss", None, 2, NOW], ["loss", "Infinity", 3, NOW]]},
        )
        assert odd.status_code == 200 and odd.json() == {"stored": 3}
        bad = http.post(url, json={"points": [["loss", "high", 4, NOW]]})
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "body.points[0][1]"
        control = http.post(url, json={"points": [["lo\x01ss", 1.0, 5, NOW]]})
        assert control.status_code == 422 and "control character" in control.json()["error"]["message"]
        big_step = http.post(url, json={"points": [["loss", 1.0, 2**63, NOW]]})
        assert big_step.status_code == 422 and big_step.json()["error"]["field"] == "body.points[0][2]"
        unknown = http.post("/api/v1/runs/" + "0" * 32 + "/metrics", json={"points": _points("x", 0, 1)})
        assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "NotFound"
        too_big = http.post(
            url,
            content=b" " * (app.settings.max_body_bytes + 1),
            headers={"Content-Type": "application/json"},
        )
        assert too_big.status_code == 413
        nobody = httpx.post(f"{server.url}{url}", json={"points": _points("loss", 9, 1)})
        assert nobody.status_code == 401 and nobody.headers["WWW-Authenticate"] == "Bearer"
        wrong = httpx.post(
            f"{server.url}{url}",
            json={"points": _points("loss", 9, 1)},
            headers={"Authorization": "Bearer shp_nope"},
        )
        assert wrong.status_code == 401
        assert _fast_answers(http) == 0
        assert len(app.tracking.metric_history(run, "loss")) == 4  # nothing refused was kept


def test_a_revoked_token_or_role_is_refused_on_its_next_write(app: App, server: LiveServer) -> None:
    app.tracking.create_experiment("churn")
    app.tracking.create_experiment("other")
    run = app.tracking.create_run("churn").id
    elsewhere = app.tracking.create_run("other").id
    issued = app.accounts.create_token("bob")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {issued.secret}"}) as bob:
        url = f"/api/v1/runs/{run}/metrics"
        for step in range(3):  # the route, then the fast path
            assert bob.post(url, json={"points": _points("loss", step, 1)}).status_code == 200
        # An experiment-scoped contributor may not write to another experiment's run, fast or not.
        assert (
            bob.post(f"/api/v1/runs/{elsewhere}/metrics", json={"points": _points("x", 0, 1)}).status_code
            == 403
        )
        app.accounts.revoke_role("bob", "contributor", experiment="churn")
        denied = bob.post(url, json={"points": _points("loss", 3, 1)})
        assert denied.status_code == 403 and denied.json()["error"]["type"] == "PermissionDenied"
        app.accounts.grant_role("bob", "contributor", experiment="churn")
        assert bob.post(url, json={"points": _points("loss", 3, 1)}).status_code == 200
        assert bob.post(url, json={"points": _points("loss", 4, 1)}).status_code == 200
        app.accounts.revoke_token(issued.token.id)
        gone = bob.post(url, json={"points": _points("loss", 5, 1)})
        assert gone.status_code == 401
    assert [m.step for m in app.tracking.metric_history(run, "loss")] == [0, 1, 2, 3, 4]
