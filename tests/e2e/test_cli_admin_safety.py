"""``shipyard users enable`` and the last admin, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cli import fails, isolate, ok


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=tmp_path / "home", user="ops")
    return tmp_path / "home"


def test_a_disabled_user_is_enabled_again() -> None:
    ok("users", "create", "root", "--role", "admin")
    ok("users", "create", "dana")
    ok("users", "disable", "dana")
    assert "Enabled user dana" in ok("users", "enable", "dana")
    users = {u["name"]: u["disabled"] for u in json.loads(ok("users", "list", "--json"))}
    assert users == {"dana": False, "root": False}


def test_the_last_admin_cannot_be_disabled_or_demoted() -> None:
    ok("users", "create", "root", "--role", "admin")
    assert "last enabled admin" in fails("users", "disable", "root")
    assert "last enabled admin" in fails("roles", "revoke", "root", "admin")


def test_user_names_are_plain() -> None:
    assert "A-Z a-z 0-9" in fails("users", "create", "ali\u200bce")
