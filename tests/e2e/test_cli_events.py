"""``shipyard events list|tail`` as a user runs them: filters, JSON, one-line errors, and
``tail --follow`` printing an event committed after it started (a real subprocess)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.events import log
from shipyard.registry.events import ModelPromoted
from support.cli import fails, isolate, ok, ok_json


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=tmp_path / "home", user="ops")
    return tmp_path / "home"


def publish(home: Path, *versions: int, model: str = "churn") -> None:
    app = build_app(load_settings(home=home))
    with app.db.write() as conn:
        for version in versions:
            log.publish(conn, ModelPromoted(model, version, "production", version - 1 or None), actor="dave")
    app.close()


def test_events_list_filters_and_prints_json(home: Path) -> None:
    publish(home, 1, 2)
    publish(home, 7, model="fraud")
    table = ok("events", "list")
    assert "model.promoted" in table and "dave" in table and "fraud" in table
    rows = ok_json("events", "list", "--where", "model=churn", "--type", "model.*")
    assert [(r["seq"], r["payload"]["version"]) for r in rows] == [(1, 1), (2, 2)]
    assert [r["seq"] for r in ok_json("events", "list", "--after", "1", "--limit", "1")] == [2]
    assert ok_json("events", "list", "--where", "version=7")[0]["payload"]["model"] == "fraud"
    assert ok_json("events", "list", "--type", "run.finished") == []
    recent = ok("events", "tail", "--last", "1")
    assert "fraud" in recent and "churn" not in recent


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("list", "--type", "Model Promoted"), "type must be a dotted event type"),
        (("list", "--where", "model"), "where must be key=value"),
        (("list", "--limit", "0"), "limit must be between 1 and"),
        (("list", "--after", "-1"), "after must be an integer"),
    ],
)
def test_bad_options_are_one_line_errors(args: tuple[str, ...], message: str) -> None:
    assert message in fails("events", *args)


def test_tail_follow_prints_events_committed_after_it_started(home: Path) -> None:
    publish(home, 1)
    exe = shutil.which("shipyard", path=str(Path(sys.executable).parent))
    assert exe is not None
    env = {**os.environ, "SHIPYARD_HOME": str(home)}
    proc = subprocess.Popen(
        [exe, "events", "tail", "--follow", "--json", "--last", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        first = json.loads(lines.get(timeout=60))
        assert first["seq"] == 1
        publish(home, 2)
        second = json.loads(lines.get(timeout=60))
        assert (second["seq"], second["payload"]["version"]) == (2, 2)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 130
