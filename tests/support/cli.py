"""The ``shipyard`` command run in-process (Typer's CliRunner), isolated from the outside world.

@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path, home=tmp_path / "home")
    return tmp_path / "home"

ok("runs", "list")              # stdout of a command that must succeed
fails("runs", "show", "nope")   # the one ``error: …`` line of a command that must fail
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from shipyard.cli import output
from shipyard.cli.main import app

runner = CliRunner()


def isolate(
    monkeypatch: pytest.MonkeyPatch,
    cwd: Path,
    *,
    home: Path | None = None,
    user: str | None = None,
    width: int | None = 200,
) -> None:
    """No outside ``SHIPYARD_*`` settings, the working directory in ``cwd``; ``SHIPYARD_HOME`` and
    ``SHIPYARD_USER`` set when given."""
    for name in list(os.environ):
        if name.startswith("SHIPYARD_"):
            monkeypatch.delenv(name)
    if home is not None:
        monkeypatch.setenv("SHIPYARD_HOME", str(home))
    if user is not None:
        monkeypatch.setenv("SHIPYARD_USER", user)
    monkeypatch.chdir(cwd)
    if width is not None:
        # Rich reads the terminal width once; make tables wide enough that ids are never folded.
        monkeypatch.setattr(output.console, "_width", width)


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> str:
    """Run a command that must succeed; return its stdout."""
    result = invoke(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


def fails(*args: str) -> str:
    """Run a command that must fail as a user error; return its one stderr line."""
    result = invoke(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]
