"""``shipyard pipelines triggers|backfill`` and ``shipyard scheduler`` as a user runs them: define,
list, show, enable, disable, delete triggers; one-line errors naming the field; the scheduler loop
started as a real process and stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from shipyard.app import build_app
from shipyard.config import load_settings
from support.cli import fails, isolate, ok, ok_json

TRAIN = """
from shipyard.pipelines.definition import pipeline, step


@step
def fit(lr: float) -> float:
    return lr * 2


@pipeline
def train(lr: float = 0.1, tag: str = "v0") -> None:
    fit(lr)
"""


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated home with the pipeline ``train`` applied: a trigger must name a pipeline."""
    isolate(monkeypatch, tmp_path, home=tmp_path / "home", user="ops")
    name = f"train_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(TRAIN)
    ok("pipelines", "apply", f"{name}.py")
    return tmp_path / "home"


def test_define_list_show_enable_disable_delete(home: Path) -> None:
    out = ok(
        "pipelines",
        "triggers",
        "create",
        "nightly",
        "-p",
        "train",
        "--cron",
        "0 2 * * *",
        "--timezone",
        "Europe/Paris",
        "--catchup",
        "all",
        "--param",
        "lr=0.1",
        "--param",
        "tag=v1",
    )
    assert "Created schedule trigger 'nightly'" in out
    ok(
        "pipelines",
        "triggers",
        "create",
        "on-drift",
        "-p",
        "train",
        "--event",
        "drift.detected",
        "--where",
        "model=churn",
        "--cooldown",
        "3600",
        "--max-concurrent",
        "1",
    )
    ok(
        "pipelines",
        "triggers",
        "create",
        "fresh",
        "-p",
        "train",
        "--partitions",
        str(home / "data"),
        "--poll",
        "30",
    )
    listed = {t["name"]: t for t in ok_json("pipelines", "triggers", "list")}
    assert listed["nightly"]["kind"] == "schedule" and listed["nightly"]["params"] == {"lr": 0.1, "tag": "v1"}
    assert listed["nightly"]["spec"]["catchup"] == "all" and listed["nightly"]["next_check_at"]
    assert listed["on-drift"]["spec"] == {"event_type": "drift.detected", "where": {"model": "churn"}}
    assert listed["on-drift"]["cooldown_s"] == 3600 and listed["on-drift"]["max_concurrent"] == 1
    assert listed["fresh"]["spec"]["source"] == "partitions"
    assert "nightly" in ok("pipelines", "triggers", "list")
    ok("pipelines", "triggers", "disable", "nightly")
    shown = ok_json("pipelines", "triggers", "show", "nightly")
    assert shown["enabled"] is False and shown["firings"] == []
    ok("pipelines", "triggers", "enable", "nightly")
    status = {s["trigger"]: s for s in ok_json("scheduler", "status")}
    assert status["nightly"]["enabled"] and status["nightly"]["last_firing"] is None
    assert status["on-drift"]["next"] == "on the next matching event"
    ok("pipelines", "triggers", "delete", "fresh")
    assert fails("pipelines", "triggers", "show", "fresh") == "error: no trigger named 'fresh'"
    app = build_app(load_settings(home=home))
    actions = [r.action for r in app.audit.list(object_type="trigger")]
    app.close()
    assert actions == ["trigger.create"] * 3 + ["trigger.disable", "trigger.enable", "trigger.delete"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "0 25 * * *"], "error: invalid cron expression '0 25 * * *'"),
        (["--cron", "0 2 * * *", "--timezone", "Mars/Olympus"], "error: unknown time zone 'Mars/Olympus'"),
        (["--cron", "0 2 * * *", "--catchup", "some"], "error: catchup must be one of latest, all, none"),
        (["--cooldown", "-5"], "error: cooldown must be a whole number of seconds"),
        (["--event", "model.exploded"], "error: unknown event type 'model.exploded'"),
        (["--files", "*.csv", "--table", "t"], "error: give one of --files, --partitions, --table, --view"),
        (["--param", "novalue"], "error: --param takes KEY=VALUE, got 'novalue'"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(args: list[str], message: str) -> None:
    assert fails("pipelines", "triggers", "create", "t", "-p", "train", *args).startswith(message)
    assert ok_json("pipelines", "triggers", "list") == []


def test_a_trigger_naming_no_applied_pipeline_is_refused_and_records_nothing() -> None:
    assert fails("pipelines", "triggers", "create", "hand", "-p", "nope") == "error: no pipeline named 'nope'"
    assert "hand" not in ok("pipelines", "triggers", "list")


def test_backfill_needs_zoned_times() -> None:
    ok("pipelines", "triggers", "create", "nightly", "-p", "train", "--cron", "0 2 * * *")
    assert fails(
        "pipelines", "backfill", "train", "--start", "yesterday", "--end", "2024-05-02T00:00+00:00"
    ).startswith("error: --start must be an ISO 8601 time")
    assert "needs a time zone offset" in fails(
        "pipelines", "backfill", "train", "--start", "2024-05-01T00:00", "--end", "2024-05-02T00:00+00:00"
    )


def test_scheduler_loop_stops_cleanly_on_sigterm(home: Path) -> None:
    ok("pipelines", "triggers", "create", "nightly", "-p", "train", "--cron", "0 2 * * *")
    env = dict(os.environ, SHIPYARD_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli.main", "scheduler", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # printed once the loop has started
    assert "Scheduler running" in first, proc.stderr.read() if proc.poll() is not None else first
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Scheduler stopped." in out and "Traceback" not in err
    assert "error: " in fails("scheduler", "--interval", "0")


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_server_with_scheduler_records_firings_and_stops_on_sigterm(home: Path) -> None:
    """``shipyard server --scheduler``: the scheduler thread fires a schedule of every second,
    hands the firings to the pipelines engine, and stops with the server."""
    import socket

    from shipyard.pipelines.triggers.service import TriggerService

    ok("pipelines", "triggers", "create", "tick", "-p", "train", "--cron", "* * * * * *")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, SHIPYARD_HOME=str(home))
    args = ["server", "--port", str(port), "--scheduler", "--scheduler-interval", "0.2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli.main", *args], env=env, stderr=subprocess.PIPE, text=True
    )
    app = build_app(load_settings(home=home))
    try:
        service = TriggerService(app.db, app.pipeline_launcher)
        deadline = time.monotonic() + 60
        while not service.firings("tick"):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the server's scheduler recorded no firing"
            time.sleep(0.1)
        assert service.firings("tick")[0].status.value in ("pending", "submitting", "submitted")
        # The scheduler starts before the HTTP server listens: stop it once both are up.
        while not _answers(f"http://127.0.0.1:{port}/health"):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start listening"
            time.sleep(0.1)
    finally:
        app.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # uvicorn re-raises SIGTERM once it has shut down: the exit status says which signal stopped it.
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Finished server process" in err and "Traceback" not in err


def test_scheduler_once_fails_runs_whose_process_died(home: Path) -> None:
    from sqlalchemy import update

    from shipyard.pipelines.store import runs_t, steps_t

    app = build_app(load_settings(home=home))
    try:
        name = app.pipelines.list_pipelines()[0].name
        run = app.pipelines.run(name, {"lr": 0.5}, started_by="ops")
        hour_ago = int(time.time() * 1000) - 3_600_000
        with app.db.write() as conn:  # as a process killed an hour ago left it
            conn.execute(
                update(runs_t)
                .where(runs_t.c.id == run.id)
                .values(
                    state="RUNNING",
                    finished_at=None,
                    created_at=hour_ago,
                    started_at=hour_ago,
                    heartbeat_at=hour_ago,
                )
            )
            conn.execute(
                update(steps_t)
                .where(steps_t.c.pipeline_run_id == run.id)
                .values(started_at=hour_ago, finished_at=hour_ago)
            )
    finally:
        app.close()
    assert f"abandoned run {run.id}" in ok("scheduler", "--once", "--stale-after", "600")
    assert "--stale-after must be from 10 seconds" in fails("scheduler", "--once", "--stale-after", "5")
    assert "--stale-after" in ok("scheduler", "--help")


def test_update_changes_what_is_given_and_keeps_the_rest(home: Path) -> None:
    ok(
        "pipelines",
        "triggers",
        "create",
        "nightly",
        "-p",
        "train",
        "--cron",
        "0 2 * * *",
        "--timezone",
        "Europe/Paris",
        "--param",
        "lr=0.1",
        "--param",
        "tag=v1",
        "--max-concurrent",
        "2",
    )
    out = ok(
        "pipelines",
        "triggers",
        "update",
        "nightly",
        "--cron",
        "30 4 * * *",
        "--cooldown",
        "600",
        "--param",
        "lr=0.5",
    )
    assert "Updated schedule trigger 'nightly'" in out
    shown = ok_json("pipelines", "triggers", "show", "nightly")
    assert shown["spec"]["cron"] == "30 4 * * *" and shown["spec"]["timezone"] == "Europe/Paris"
    assert shown["params"] == {"lr": 0.5, "tag": "v1"} and shown["cooldown_s"] == 600
    assert shown["max_concurrent"] == 2
    changed = ok_json("pipelines", "triggers", "update", "nightly", "--no-limit", "--clear-params", "--json")
    assert changed["max_concurrent"] is None and changed["params"] == {}
    assert "cron" in fails("pipelines", "triggers", "update", "nightly", "--cron", "61 * * * *")
    assert "nothing to change" in fails("pipelines", "triggers", "update", "nightly")
    assert "not both" in fails(
        "pipelines", "triggers", "update", "nightly", "--no-limit", "--max-concurrent", "1"
    )
    assert (
        fails("pipelines", "triggers", "update", "nope", "--cooldown", "5")
        == "error: no trigger named 'nope'"
    )
    app = build_app(load_settings(home=home))
    try:
        actions = [r.action for r in app.audit.list(object_type="trigger")]
    finally:
        app.close()
    assert actions == ["trigger.create", "trigger.update", "trigger.update"]
    assert "--max-concurrent" in ok("pipelines", "triggers", "update", "--help")
