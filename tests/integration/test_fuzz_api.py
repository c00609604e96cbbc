"""Schemathesis over the live server's own OpenAPI document, once with an admin token and once with
a viewer token: no request may end in a 5xx, and every status must be one the document lists.

Both runs go at once against one real uvicorn server (SQLite), with a fixed seed and a bounded
number of examples per operation, so the test takes well under a minute. The routes that revoke
a token by id are left out: a run that found its own token's id would lock itself out (they are
covered by tests of their own). The admin-lockout routes (disable a user, revoke a role) stay in:
the last admin cannot be disabled or demoted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from support.live_server import LiveServer, start_live_server

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 5
SEED = 20261204


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    home = tmp_path_factory.mktemp("fuzz")
    app = build_app(load_settings(home=home, artifacts=str(home / "artifacts")))
    app.accounts.create_user("root", role="admin")
    app.accounts.create_user("vera", role="viewer")
    app.tracking.create_experiment("churn")
    app.tracking.create_run("churn", name="baseline")
    yield app
    app.close()


@pytest.fixture(scope="module")
def server(app: App) -> Iterator[LiveServer]:
    server = start_live_server(app)
    yield server
    server.stop()


def _requests_served(server: LiveServer, token: str) -> float:
    text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("shipyard_http_requests_total{")
    )


def _schemathesis(server: LiveServer, token: str, report: Path) -> subprocess.Popen[str]:
    st = Path(sys.executable).with_name("st")
    return subprocess.Popen(
        [
            str(st),
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error,status_code_conformance",
            "--phases",
            "fuzzing",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            "--no-shrink",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--exclude-path-regex",
            r"tokens/\{token_id\}",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=report.parent,  # its cache folder stays out of the checkout
    )


def test_fuzzing_finds_no_server_error_and_no_undocumented_status(
    app: App, server: LiveServer, tmp_path: Path
) -> None:
    tokens = {
        "admin": app.accounts.create_token("root", name="fuzz").secret,
        "viewer": app.accounts.create_token("vera", name="fuzz").secret,
    }
    before = _requests_served(server, tokens["admin"])
    runs = {role: _schemathesis(server, token, tmp_path / f"{role}.json") for role, token in tokens.items()}
    outputs = {role: run.communicate(timeout=240)[0] for role, run in runs.items()}
    served = _requests_served(server, tokens["admin"]) - before

    for role, run in runs.items():
        report = json.loads((tmp_path / f"{role}.json").read_text())
        cases = report["test_cases"]
        print(f"{role}: {cases['generated']} test cases, {len(report['failures'])} failures")
        assert report["failures"] == [], f"{role}:\n{outputs[role][-6000:]}"
        assert report["errors"] == [], f"{role}:\n{outputs[role][-6000:]}"
        assert run.returncode == 0, f"{role}:\n{outputs[role][-6000:]}"
        assert cases["generated"] >= 250  # every operation was exercised, not skipped
    print(f"requests served during both runs: {served:.0f}")
    assert served >= 500
    # The tokens still work: the run did not lock itself out.
    assert httpx.get(
        f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {tokens['admin']}"}
    ).is_success
