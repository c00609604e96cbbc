"""CLI rough edges a newcomer hits: each is one clear line and a non-zero exit, or works."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from shipyard.app import build_app
from shipyard.config import load_settings
from support.cli import fails, invoke, isolate, ok
from support.live_server import start_live_server


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=tmp_path / "home")
    return tmp_path / "home"


def test_a_malformed_config_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('db_url = "unterminated\n')
    assert fails("runs", "list").startswith("error: ") and "is not valid TOML" in fails("runs", "list")


def test_server_on_a_taken_port_fails_before_announcing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("server", "--port", str(port))
    assert result.exit_code != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Shipyard server on" not in result.stderr


def test_a_server_url_without_a_token_names_shipyard_token(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(load_settings(home=home))
    try:
        with start_live_server(app) as server:
            monkeypatch.setenv("SHIPYARD_URL", server.url)
            assert "SHIPYARD_TOKEN" in fails("runs", "list")
    finally:
        app.close()


def test_search_prints_bare_ids_for_the_shell(home: Path) -> None:
    app = build_app(load_settings(home=home))
    try:
        app.tracking.create_experiment("churn")
        ids = {app.tracking.create_run("churn", name=f"r{i}").id for i in range(2)}
    finally:
        app.close()
    assert set(ok("runs", "search", "name LIKE 'r%'", "--ids").split()) == ids


def test_runs_history_draws_a_labelled_chart(home: Path) -> None:
    app = build_app(load_settings(home=home))
    try:
        app.tracking.create_experiment("churn")
        run = app.tracking.create_run("churn", name="r")
        app.tracking.log_metrics(run.id, [("val_auc", 0.5 + s / 1000, s, 1_000 + s) for s in range(300)])
    finally:
        app.close()
    out = ok("runs", "history", run.id, "val_auc", "--rows", "2")
    assert f"val_auc of run {run.id} (300 points)" in out  # the chart's title
    assert "step" in out and "299" in out and "0.799" in out  # axis label, last step, top value
    assert any(ch in out for ch in "⠁⠉⠒⠤⣀")  # the braille line itself
    assert "last 2 of 300 points" in out and "  298  " in out and "  297  " not in out


def test_a_filter_on_a_key_no_run_has_warns_with_the_closest_keys(home: Path) -> None:
    app = build_app(load_settings(home=home))
    try:
        app.tracking.create_experiment("churn")
        run = app.tracking.create_run("churn", name="r")
        app.tracking.log_metrics(run.id, [("roc_auc", 0.9, 0, 1), ("pr_auc", 0.5, 0, 1)])
        app.tracking.log_params(run.id, {"max_depth": 3})
    finally:
        app.close()
    result = invoke("runs", "search", "metrics.rocauc > 0.8 and params.max_dept = 3", "-e", "churn")
    assert result.exit_code == 0, result.stderr  # an empty result is still an answer
    assert "No runs matched." in result.stdout
    warnings = result.stderr.strip().splitlines()
    assert warnings == [
        "warning: no run has metrics.rocauc, so nothing can match it; did you mean metrics.roc_auc, metrics.pr_auc?",
        "warning: no run has params.max_dept, so nothing can match it; did you mean params.max_depth?",
    ]
    quiet = invoke("runs", "search", "metrics.roc_auc > 0.95", "-e", "churn")
    assert quiet.exit_code == 0 and quiet.stderr == ""  # a known key that matches nothing: no warning
    assert run.id in ok("runs", "search", "metrics.roc_auc > 0.8", "--ids")
