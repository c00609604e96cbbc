"""The ``shipyard`` command end to end: real settings, a real SQLite database and artifact folder
under ``tmp_path``, data logged through the SDK client, output read the way a user reads it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from shipyard.cli.main import app
from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.errors import Unauthenticated
from support.cli import fails, invoke, isolate, ok, ok_json


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated Shipyard: no outside SHIPYARD_* settings, home under tmp_path, cwd in tmp_path."""
    isolate(monkeypatch, tmp_path, home=tmp_path / "home")
    return tmp_path / "home"


@dataclass(frozen=True)
class Logged:
    baseline: str
    better: str
    data: Path
    model: Path


@pytest.fixture
def logged(tmp_path: Path) -> Logged:
    """Two runs in experiment "churn", logged through the SDK like a notebook would."""
    data = tmp_path / "train.csv"
    data.write_text("tenure,churned\n1,0\n5,1\n9,0\n", encoding="utf-8")
    model = tmp_path / "model.txt"
    model.write_bytes(b"weights: 0.1 0.2 0.3\n")
    client = Client(load_settings())
    try:
        with client.start_run(experiment="churn", name="baseline", tags={"team": "growth"}) as run:
            run.log_params({"model": "logreg", "C": 1.0})
            run.log_metrics({"roc_auc": 0.72, "accuracy": 0.80})
            for step in range(5):
                run.log_metric("val_loss", 1.0 / (step + 1), step=step)
            run.log_dataset(data, name="train", context="training")
            run.log_artifact(model)
            run.set_note("first try")
            baseline = run.id
        with client.start_run(experiment="churn", name="better") as run:
            run.log_params({"model": "forest", "C": 1.0})
            run.log_metrics({"roc_auc": 0.86, "accuracy": 0.85})
            run.log_dataset(data, name="train", context="training")
            better = run.id
    finally:
        client.close()
    return Logged(baseline, better, data, model)


# -- help ------------------------------------------------------------------------------------------


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under ``command`` (typer vendors click, so groups are known by ``commands``)."""
    found = [(path, command)]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


ALL_COMMANDS = _commands(typer.main.get_command(app))


@pytest.mark.parametrize(
    ("path", "command"), ALL_COMMANDS, ids=[" ".join(p) or "shipyard" for p, _ in ALL_COMMANDS]
)
def test_every_command_and_parameter_has_help(path: tuple[str, ...], command: Any) -> None:
    assert (command.help or "").strip(), f"{path} has no help text"
    for param in command.params:
        if param.name in {"help", "install_completion", "show_completion"}:
            continue
        assert (getattr(param, "help", None) or "").strip(), f"{path} parameter {param.name} has no help"
    text = ok(*path, "--help")
    assert "Usage:" in text
    first_line = command.help.strip().splitlines()[0]
    assert first_line.split()[0] in text


def test_root_help_lists_every_sub_app() -> None:
    text = ok("--help")
    for name in ("config", "db", "experiments", "runs", "artifacts", "lineage", "users", "tokens"):
        assert name in text
    for name in ("init", "demo", "server"):
        assert name in text
    assert {"list", "show", "search", "compare", "history"} <= set(
        ALL_COMMANDS[0][1].commands["runs"].commands
    )  # type: ignore[attr-defined]


def test_usage_mistakes_exit_2() -> None:
    assert invoke("runs", "bogus").exit_code == 2
    assert invoke("runs", "list", "--bogus").exit_code == 2


# -- init, config, db ------------------------------------------------------------------------------


def test_init_creates_home_database_and_a_template_it_keeps(home: Path, tmp_path: Path) -> None:
    text = ok("init")
    assert home.is_dir() and (home / "shipyard.db").is_file()
    template = tmp_path / "shipyard.toml"
    assert template.is_file()
    assert "# metric_flush_size = 10000" in template.read_text(encoding="utf-8")
    assert load_settings().metric_flush_size == 10_000  # everything in it is commented out
    assert "Next steps" in text and "shipyard demo" in text
    template.write_text("# mine\n", encoding="utf-8")
    assert "kept the existing" in ok("init")
    assert template.read_text(encoding="utf-8") == "# mine\n"
    assert ok_json("db", "current")["up_to_date"] is True  # type: ignore[index]
    assert "already at the current revision" in ok("db", "upgrade")


def test_db_upgrade_works_when_auto_upgrade_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_AUTO_UPGRADE", "false")
    assert ok_json("db", "current")["current"] is None  # type: ignore[index]
    assert "Upgraded the database" in ok("db", "upgrade")
    assert ok_json("db", "current")["up_to_date"] is True  # type: ignore[index]


def test_config_show_says_where_each_value_came_from(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHIPYARD_METRIC_FLUSH_SIZE", "123")
    (tmp_path / "shipyard.toml").write_text('user = "carol"\n', encoding="utf-8")
    rows = {r["name"]: r for r in ok_json("config", "show")}  # type: ignore[union-attr]
    assert rows["metric_flush_size"]["value"] == "123"
    assert rows["metric_flush_size"]["source"] == "environment (SHIPYARD_METRIC_FLUSH_SIZE)"
    assert rows["user"]["value"] == "carol" and rows["user"]["source"].startswith("config file")
    assert rows["auto_upgrade"]["source"] == "default"
    assert rows["db_url"]["source"] == "default (derived from home)"
    text = ok("config", "show")
    assert "SHIPYARD_METRIC_FLUSH_SIZE" in text and "carol" in text


def test_invalid_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_URL", "ftp://example.org")
    assert "invalid setting url" in fails("config", "show")


# -- experiments and runs --------------------------------------------------------------------------


def test_experiments_create_and_list() -> None:
    created = ok_json("experiments", "create", "churn", "--description", "who leaves")
    listed = ok_json("experiments", "list")
    assert [(e["id"], e["name"], e["description"]) for e in listed] == [  # type: ignore[union-attr, index]
        (created["id"], "churn", "who leaves")  # type: ignore[index]
    ]
    assert "churn" in ok("experiments", "list")
    assert "already exists" in fails("experiments", "create", "churn")


def test_runs_list_and_search(logged: Logged) -> None:
    runs = ok_json("runs", "list", "-e", "churn")
    assert [r["id"] for r in runs] == [logged.better, logged.baseline]  # type: ignore[union-attr, index]
    assert runs[1]["params"] == {"model": "logreg", "C": "1.0"}  # type: ignore[index]
    assert runs[1]["metrics"]["roc_auc"]["value"] == 0.72  # type: ignore[index]
    assert runs[1]["experiment"] == "churn" and runs[1]["status"] == "FINISHED"  # type: ignore[index]
    text = ok("runs", "list")
    assert logged.baseline in text and "baseline" in text and "FINISHED" in text
    found = ok_json("runs", "search", "metrics.roc_auc > 0.8", "-e", "churn")
    assert [r["id"] for r in found] == [logged.better]  # type: ignore[union-attr, index]
    ordered = ok_json("runs", "search", "params.C = 1", "--order-by", "metrics.roc_auc ASC")
    assert [r["id"] for r in ordered] == [logged.baseline, logged.better]  # type: ignore[union-attr, index]
    assert ok_json("runs", "list", "--limit", "1")[0]["id"] == logged.better  # type: ignore[index]
    assert "roc_auc" in ok("runs", "search", "metrics.roc_auc > 0.8")


def test_runs_show(logged: Logged) -> None:
    detail = ok_json("runs", "show", logged.baseline)
    assert detail["note"] == "first try" and detail["tags"] == {"team": "growth"}  # type: ignore[index]
    assert detail["datasets"][0]["name"] == "train" and detail["datasets"][0]["context"] == "training"  # type: ignore[index]
    assert detail["artifacts"][0]["path"] == "model.txt"  # type: ignore[index]
    assert detail["environment"]["python_version"]  # type: ignore[index]
    assert detail["duration_seconds"] >= 0  # type: ignore[index, operator]
    text = ok("runs", "show", logged.baseline)
    for expected in ("baseline", "first try", "growth", "logreg", "roc_auc", "train", "model.txt", "python"):
        assert expected in text


def test_runs_compare_highlights_differing_params(logged: Logged) -> None:
    comparison = ok_json("runs", "compare", logged.baseline, logged.better)
    assert comparison["differing_params"] == ["model"]  # type: ignore[index]
    assert comparison["params"]["model"] == ["logreg", "forest"]  # type: ignore[index]
    assert comparison["metrics"]["roc_auc"] == [0.72, 0.86]  # type: ignore[index]
    text = ok("runs", "compare", logged.baseline, logged.better)
    assert "≠ params.model" in text and "≠ params.C" not in text and "params.C" in text


def test_runs_history(logged: Logged) -> None:
    points = ok_json("runs", "history", logged.baseline, "val_loss")
    assert [(p["step"], p["value"]) for p in points] == [(s, 1.0 / (s + 1)) for s in range(5)]  # type: ignore[union-attr, index]
    assert "val_loss" in ok("runs", "history", logged.baseline, "val_loss")
    assert "has no metric 'nope'" in fails("runs", "history", logged.baseline, "nope")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("runs", "list", "-e", "nope"), "experiment 'nope' does not exist"),
        (("runs", "search", "metrics.roc_auc >"), "invalid filter"),
        (("runs", "search", "bogus.key = 1"), "filter"),
        (("runs", "show", "0" * 32), "does not exist"),
        (("runs", "compare", "0" * 32), "does not exist"),
        (("lineage", "not-a-thing"), "lineage subject"),
        (("tokens", "create", "nobody"), "user 'nobody' does not exist"),
        (("tokens", "create", "nobody", "--expires-in", "3y"), "--expires-in"),
    ],
)
def test_user_errors_are_one_line_with_exit_1(logged: Logged, args: tuple[str, ...], message: str) -> None:
    assert message in fails(*args)


# -- artifacts and lineage -------------------------------------------------------------------------


def test_artifacts_list_and_get(logged: Logged, tmp_path: Path) -> None:
    listed = ok_json("artifacts", "list", logged.baseline)
    assert [(a["path"], a["size"]) for a in listed] == [("model.txt", logged.model.stat().st_size)]  # type: ignore[union-attr, index]
    dest = tmp_path / "out" / "copy.txt"
    dest.parent.mkdir()
    text = ok("artifacts", "get", logged.baseline, "model.txt", "-o", str(dest))
    assert dest.read_bytes() == logged.model.read_bytes()
    assert "verified against sha256:" in text
    assert "exists already" in fails("artifacts", "get", logged.baseline, "model.txt", "-o", str(dest))
    ok("artifacts", "get", logged.baseline, "model.txt", "-o", str(dest.parent), "--force")
    assert (dest.parent / "model.txt").read_bytes() == logged.model.read_bytes()
    by_digest = tmp_path / "by-digest.bin"
    ok("artifacts", "get", listed[0]["digest"], "-o", str(by_digest))  # type: ignore[index]
    assert by_digest.read_bytes() == logged.model.read_bytes()
    assert "needs a destination" in fails("artifacts", "get", listed[0]["digest"])  # type: ignore[index]


def test_artifacts_get_refuses_traversal(logged: Logged, tmp_path: Path) -> None:
    assert "'..' is not allowed" in fails("artifacts", "get", logged.baseline, "../../etc/passwd", "-o", "x")
    assert "must be relative" in fails("artifacts", "get", logged.baseline, "/etc/passwd", "-o", "x")
    assert not (tmp_path / "x").exists()
    assert "has no artifact" in fails("artifacts", "get", logged.baseline, "missing.bin")


def test_lineage_tree(logged: Logged) -> None:
    text = ok("lineage", logged.baseline)
    assert "upstream" in text and "downstream" in text
    assert "train" in text and "[input:training]" in text
    assert "model.txt" in text and "[output]" in text
    graph = ok_json("lineage", f"{logged.baseline}/model.txt")
    assert graph["subject"]["label"] == "model.txt"  # type: ignore[index]
    assert {n["id"] for n in graph["nodes"]} >= {logged.baseline}  # type: ignore[index]
    data_text = ok(
        "lineage", str(json.loads(ok("runs", "show", logged.baseline, "--json"))["datasets"][0]["digest"])
    )
    assert "baseline" in data_text and "better" in data_text  # both runs used the same data


# -- accounts --------------------------------------------------------------------------------------


def test_users_and_tokens() -> None:
    user = ok_json("users", "create", "alice")
    assert user["name"] == "alice"  # type: ignore[index]
    assert [u["name"] for u in ok_json("users", "list")] == ["alice"]  # type: ignore[union-attr, index]
    assert "already exists" in fails("users", "create", "alice")

    result = invoke("tokens", "create", "alice", "--name", "ci", "--expires-in", "30d")
    assert result.exit_code == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("shp_") and "\n" not in secret
    assert "only time the secret is shown" in result.stderr

    tokens = ok_json("tokens", "list", "alice")
    assert [t["name"] for t in tokens] == ["ci"]  # type: ignore[union-attr, index]
    expires = datetime.fromisoformat(tokens[0]["expires_at"])  # type: ignore[index]
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert secret not in ok("tokens", "list", "alice")

    client = Client(load_settings())
    try:
        principal = client.accounts.authenticate(secret)
        assert (principal.user.id, principal.user.name) == (user["id"], "alice")  # type: ignore[index]
        assert "Revoked token" in ok("tokens", "revoke", tokens[0]["id"])  # type: ignore[index]
        with pytest.raises(Unauthenticated):
            client.accounts.authenticate(secret)
    finally:
        client.close()
    assert ok_json("tokens", "list", "alice")[0]["revoked_at"] is not None  # type: ignore[index]
    assert "revoked" in ok("tokens", "list", "alice")
    assert "does not exist" in fails("tokens", "revoke", "0" * 32)


def test_accounts_need_the_database_not_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_URL", "http://127.0.0.1:9")
    assert "SHIPYARD_URL" in fails("users", "list")


# -- the real console script -----------------------------------------------------------------------


def _shipyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_subprocess_errors_exit_codes_and_no_traceback(logged: Logged, tmp_path: Path) -> None:
    missing = _shipyard("runs", "show", "0" * 32, cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr == f"error: run '{'0' * 32}' does not exist\n"
    assert missing.stdout == ""

    usage = _shipyard("runs", "frobnicate", cwd=tmp_path)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr

    shown = _shipyard("runs", "show", logged.baseline, "--json", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stderr == ""
    assert json.loads(shown.stdout)["id"] == logged.baseline


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    """``shipyard server`` on a free port, once ``/health`` answers; its output is piped."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli.main", "server", "--port", str(port), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server, port
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def test_remote_mode_through_a_real_server(
    logged: Logged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("users", "create", "ci", "--role", "viewer")
    secret = invoke("tokens", "create", "ci").stdout.strip()
    server, port = _start_server(tmp_path)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
        monkeypatch.setenv("SHIPYARD_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("SHIPYARD_TOKEN", secret)
        assert [r["id"] for r in ok_json("runs", "list", "-e", "churn")] == [logged.better, logged.baseline]  # type: ignore[union-attr, index]
        assert ok_json("runs", "show", logged.baseline)["artifacts"][0]["path"] == "model.txt"  # type: ignore[index]
        dest = tmp_path / "remote-copy.txt"
        ok("artifacts", "get", logged.baseline, "model.txt", "-o", str(dest))
        assert dest.read_bytes() == logged.model.read_bytes()
        assert "does not exist" in fails("runs", "show", "0" * 32)
        assert "SHIPYARD_URL" in fails("users", "list")
        monkeypatch.setenv("SHIPYARD_TOKEN", "shp_not-a-real-token")
        assert "invalid token" in fails("experiments", "list")
    finally:
        server.send_signal(signal.SIGINT)
        stdout, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert '"GET /docs HTTP/1.1" 200' in stdout  # the access log is on by default


def test_server_without_access_log_logs_no_request(tmp_path: Path) -> None:
    env = dict(os.environ, SHIPYARD_HOME=str(tmp_path / "home"))
    server, _ = _start_server(tmp_path, "--no-access-log", env=env)  # it asked /health
    try:
        assert server.poll() is None
    finally:
        server.send_signal(signal.SIGINT)
        stdout, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "Uvicorn running" in stderr and "GET /health" not in stdout + stderr


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "shipyard"
    assert script.exists(), "`pip install -e .` installs the shipyard console script next to python"
    done = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.startswith("shipyard ")
