"""A newcomer's path: the demo's printed next steps, and the README quick start, run as written.

The commands run in a real ``bash`` with a PATH that does not contain this environment's ``bin``
folder, as in a fresh terminal after ``make demo``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from support.waiting import wait_until

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
ROWS = "600"


def plain_env(tmp_path: Path) -> dict[str, str]:
    """A shell environment without SHIPYARD_* settings and without this venv on the PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != BIN.resolve()
    )
    env["HOME"] = str(tmp_path)
    env["COLUMNS"] = "200"
    return env


def bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def printed_steps(output: str) -> list[tuple[str, str]]:
    """The (why, command) pairs under the demo's "What to look at next" rule."""
    lines = output[output.index("What to look at next") :].splitlines()[1:]
    return [
        (why[2:], command)
        for why, command in itertools.pairwise(lines)
        if why.startswith("# ") and command and not command.startswith("# ")
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(1200)  # a whole demo and every printed command, on a busy machine
def test_the_demos_next_steps_work_as_printed(tmp_path: Path) -> None:
    env = plain_env(tmp_path)
    demo = f"{BIN / 'shipyard'} demo --dir demo --rows {ROWS}"
    first = bash(demo, env, tmp_path)
    assert first.returncode == 0, first.stderr
    # Everything in the folder it was given; no Redis configured, so the stream step says it is skipped.
    assert (tmp_path / "demo" / ".shipyard" / "shipyard.db").is_file()
    assert (tmp_path / "demo" / "data" / "scored.parquet").is_file()
    assert not (tmp_path / ".shipyard").exists()
    assert "Stream scoring skipped: it needs Redis (set SHIPYARD_DEMO_REDIS_URL" in first.stdout

    steps = printed_steps(first.stdout)
    setup = [cmd for why, cmd in steps if why.startswith(("first, in this shell", "then, in the same shell"))]
    assert setup[0] == f". {BIN / 'activate'}" and setup[1] == f"cd {tmp_path / 'demo'}"
    commands = [cmd for why, cmd in steps if cmd not in setup]
    assert len(commands) >= 14
    prefix = " && ".join(setup)
    token = ""
    for command in commands:
        if command == "shipyard server":
            continue
        result = bash(f"{prefix} && {command}", env, tmp_path)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        if command.startswith("shipyard tokens create demo-viewer"):
            token = result.stdout.strip()
    # Four versions of the model: two from the sweep, one from the pipeline, one from the retraining
    # the drift alert started.
    versions = bash(f"{prefix} && shipyard models show churn --json", env, tmp_path)
    assert [v["version"] for v in json.loads(versions.stdout)["versions"]] == [1, 2, 3, 4]

    # The last step, the server, as printed; on another port, since 8080 may be in use here.
    assert commands[-1] == "shipyard server" and token.startswith("shp_")
    port = free_port()
    server = subprocess.Popen(
        ["bash", "-c", f"{prefix} && exec {commands[-1]} --port {port}"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: _reachable(f"http://127.0.0.1:{port}/health"), timeout=60)
        body = urllib.parse.urlencode({"token": token, "next": "/ui"}).encode()
        opener = urllib.request.build_opener(_NoRedirect)
        login = opener.open(urllib.request.Request(f"http://127.0.0.1:{port}/ui/login", data=body))
        cookie = login.headers["set-cookie"].split(";")[0]
        page = urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{port}/ui", headers={"Cookie": cookie})
        )
        assert page.status == 200 and "demo-viewer" in page.read().decode()
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    assert "shipyard tokens create demo-viewer" in stderr  # it says how to log in


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None

    def http_error_303(self, req, fp, code, msg, headers):  # type: ignore[no-untyped-def]
        return fp


def _reachable(url: str) -> bool:
    try:
        return bool(urllib.request.urlopen(url, timeout=2).status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


def _quick_start() -> tuple[list[str], str]:
    """The README quick start's shell blocks and its Python block."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Quick start") : text.index("### Features")]
    shells = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    (python,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    return shells, python


def test_the_readme_quick_start_runs_as_written(tmp_path: Path) -> None:
    shells, python = _quick_start()
    install, start, explore = shells
    assert "pip install -e ." in install  # this suite runs inside that installation already
    (tmp_path / ".venv").symlink_to(BIN.parent)  # the repository's .venv, as `. .venv/bin/activate` expects
    script = "\n".join(["set -eo pipefail", start, "python - <<'PYTHON'", python, "PYTHON", explore])
    result = bash(script, plain_env(tmp_path), tmp_path)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "gbm-depth-2" in result.stdout and "gbm-depth-4" in result.stdout
    assert "model.txt" in result.stdout  # lineage shows what the run produced
