"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.accounts.service import AccountsService
from shipyard.app import App, build_app
from shipyard.config import load_settings
from support.databases import seed_embedded_home


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """An embedded Shipyard: SQLite under ``tmp_path/home`` (copied from a migrated template),
    artifacts in ``tmp_path/artifacts``."""
    home = seed_embedded_home(tmp_path / "home")
    app = build_app(load_settings(home=home, artifacts=str(tmp_path / "artifacts")))
    yield app
    app.close()


@pytest.fixture
def accounts(app: App) -> AccountsService:
    return app.accounts
