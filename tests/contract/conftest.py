"""The tracking contract runs three ways: in process on SQLite, in process on PostgreSQL, and
through a live REST server (remote mode). Each way gets one App per session; tests are isolated
by clearing the tracking tables before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.tracking.api import TrackingAPI
from support.databases import fresh_postgres_database, reset_tracking

USER = "alice"


def _app(home: Path, db_url: str | None = None) -> App:
    app = build_app(load_settings(home=home, db_url=db_url, artifacts=str(home / "artifacts")), migrate=False)
    runner.upgrade(app.db)
    return app


@pytest.fixture(scope="session")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = _app(tmp_path_factory.mktemp("sqlite"))
    yield app
    app.close()


@pytest.fixture(scope="session")
def postgres_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with fresh_postgres_database() as url:
        app = _app(tmp_path_factory.mktemp("postgres"), url)
        yield app
        app.close()


@pytest.fixture(scope="session")
def remote_tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, TrackingAPI]]:
    from shipyard.client.remote_tracking import RemoteTracking
    from support.live_server import start_live_server

    app = _app(tmp_path_factory.mktemp("remote"))
    app.accounts.create_user(USER, role="admin")
    secret = app.accounts.create_token(USER).secret
    server = start_live_server(app)
    client = RemoteTracking(server.url, secret)
    yield app, client
    client.close()
    server.stop()
    app.close()


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def tracking(request: pytest.FixtureRequest) -> TrackingAPI:
    """A TrackingAPI with empty tracking tables."""
    if request.param == "remote":
        app, api = request.getfixturevalue("remote_tracking")
    else:
        app = request.getfixturevalue(f"{request.param}_app")
        api = app.tracking
    reset_tracking(app.db)
    return api  # type: ignore[no-any-return]
