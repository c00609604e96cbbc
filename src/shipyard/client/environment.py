"""What the SDK records about the process that runs: interpreter, platform, installed packages,
command line and git state. Computed once per process (listing packages costs tens of ms)."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from functools import cache
from importlib.metadata import distributions
from pathlib import Path

from shipyard.tracking.model import RunEnvironment


@cache
def _packages() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower()] = dist.version
    return dict(sorted(found.items()))


def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@cache
def _git_state(cwd: Path) -> tuple[str | None, bool | None]:
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit is None:
        return None, None
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return commit, bool(status)


def capture() -> RunEnvironment:
    commit, dirty = _git_state(Path.cwd())
    return RunEnvironment(
        python_version=platform.python_version(),
        platform=platform.platform(),
        packages=_packages(),
        command=shlex.join(sys.argv) if sys.argv and sys.argv[0] else sys.executable,
        git_commit=commit,
        git_dirty=dirty,
    )
