"""Every run records the interpreter, platform, packages, command line and git state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.client import environment


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_captures_interpreter_packages_and_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    env = environment.capture()
    assert env.python_version == ".".join(map(str, sys.version_info[:3]))
    assert "sqlalchemy" in env.packages and "shipyard" in env.packages
    assert env.command  # the pytest command line
    assert env.git_commit is None and env.git_dirty is None  # not a repository


def test_captures_git_commit_and_dirty_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    for repo in (clean, dirty):
        repo.mkdir()
        _git(repo, "init", "-q")
        (repo / "train.py").write_text("print('hi')\n")
        _git(repo, "add", "train.py")
        _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "first")
    (dirty / "train.py").write_text("print('changed')\n")
    monkeypatch.chdir(clean)
    env = environment.capture()
    assert env.git_commit == _git(clean, "rev-parse", "HEAD") and env.git_dirty is False
    monkeypatch.chdir(dirty)
    assert environment.capture().git_dirty is True
