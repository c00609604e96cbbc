"""Fixtures the integration modules share. ``server`` serves the module's own ``app`` fixture
through a real uvicorn on 127.0.0.1 for one test (a module may define a wider-scoped one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard.app import App
from support.live_server import LiveServer, start_live_server


@pytest.fixture
def server(app: App) -> Iterator[LiveServer]:
    server = start_live_server(app)
    yield server
    server.stop()
