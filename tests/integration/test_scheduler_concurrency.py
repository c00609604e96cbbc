"""Several scheduler processes on one database (SQLite and PostgreSQL) start each run exactly
once, and a scheduler SIGKILLed after recording a firing loses nothing: the firing is submitted
once by the schedulers that remain. The schedulers are real subprocesses ticking every 0.1 s over
a schedule that fires every second and an event trigger on drift events published meanwhile; the
launcher records runs in a file all processes share."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.core.clock import to_ms
from shipyard.core.events import Event
from shipyard.events import log
from shipyard.migrations import runner
from shipyard.pipelines.triggers.event_feed import EventLogFeed
from shipyard.pipelines.triggers.ports import MemoryLauncher
from shipyard.pipelines.triggers.records import firings_t
from shipyard.pipelines.triggers.scheduler import consumer_name
from shipyard.pipelines.triggers.service import TriggerService
from support.databases import fresh_postgres_database
from support.launcher import FileLauncher

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "support" / "scheduler_process.py"


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    def make(url: str | None) -> App:
        home = tmp_path / "home"
        app = build_app(
            load_settings(home=home, db_url=url, artifacts=str(home / "artifacts")), migrate=False
        )
        runner.upgrade(app.db)
        return app

    if request.param == "sqlite":
        app = make(None)
        yield app
        app.close()
    else:
        with fresh_postgres_database() as url:
            app = make(url)
            yield app
            app.close()


def start(app: App, launcher: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    )
    url = app.db.engine.url.render_as_string(hide_password=False)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), url, str(launcher), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once its SIGTERM handler is installed
    assert line.strip() == "ready" or proc.poll() == -signal.SIGKILL, (
        proc.stderr.read() if proc.stderr else ""
    )
    return proc


def wait_for(
    condition: Callable[[], bool], what: str, procs: list[subprocess.Popen[str]], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for p in procs:
            if p.poll() is not None and p.returncode != -signal.SIGKILL:
                pytest.fail(f"a scheduler exited ({p.returncode}): {p.communicate()[1]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "stopped" in out  # a clean stop: the loop ended, no traceback


@dataclass(frozen=True)
class DriftDetected(Event):
    TYPE = "drift.detected"
    model: str


def every_second(app: App) -> tuple[TriggerService, str]:
    """A schedule firing every second, and an event trigger on drift of model churn, created now."""
    triggers = TriggerService(app.db, MemoryLauncher(), events=EventLogFeed(app.events))
    spec = {"cron": "* * * * * *", "catchup": "all"}  # croniter's sixth field: seconds
    trigger = triggers.create("tick", "train", "schedule", spec, actor="ana")
    triggers.create(
        "drift", "train", "event", {"event_type": "drift.detected", "where": {"model": "churn"}}, actor="ana"
    )
    return triggers, trigger.id


def publish_drift(app: App, count: int) -> list[int]:
    """Publish ``count`` drift events alternating between churn and fraud; the churn ones' seqs."""
    churn = []
    for i in range(count):
        with app.db.write() as conn:
            log.publish(conn, DriftDetected("churn" if i % 2 == 0 else "fraud"), actor="monitor")
        if i % 2 == 0:
            churn.append(app.events.latest_seq())
    return churn


def ran(launcher: FileLauncher, trigger_id: str) -> int:
    return sum(1 for key in launcher.runs_per_key() if key.startswith(trigger_id))


def assert_each_event_ran_once(
    app: App, triggers: TriggerService, launcher: FileLauncher, churn: list[int]
) -> None:
    drift = triggers.get("drift")
    expected = {f"{drift.id}/event/{seq}" for seq in churn}
    with app.db.read() as conn:
        keys = set(conn.execute(select(firings_t.c.key).where(firings_t.c.trigger_id == drift.id)).scalars())
    assert keys == expected
    runs = launcher.runs_per_key()
    assert {k: runs.get(k) for k in expected} == dict.fromkeys(expected, 1)
    assert app.events.cursor(consumer_name(drift.id)) >= max(churn)  # its durable cursor moved along


def assert_each_slot_ran_once(
    app: App, triggers: TriggerService, launcher: FileLauncher, stopped_at: float
) -> int:
    trigger = triggers.get("tick")
    assert trigger.cursor is not None
    last = int(trigger.cursor)
    assert last <= stopped_at * 1000
    first = (to_ms(trigger.created_at) // 1000 + 1) * 1000
    expected = {f"{trigger.id}/slot/{ms}" for ms in range(first, last + 1, 1000)}
    with app.db.read() as conn:
        rows = conn.execute(
            select(firings_t.c.key, firings_t.c.status, firings_t.c.run_id).where(
                firings_t.c.trigger_id == trigger.id
            )
        ).all()
    assert {r.key for r in rows} == expected  # none missed, none extra
    assert {r.status for r in rows} == {"submitted"}
    runs = launcher.runs_per_key()
    runs = {k: n for k, n in runs.items() if k.startswith(trigger.id)}
    assert set(runs) == expected and set(runs.values()) == {1}
    assert len({r.run_id for r in rows}) == len(rows)
    return len(expected)


def test_two_schedulers_start_each_slot_exactly_once(app: App, tmp_path: Path) -> None:
    triggers, tick = every_second(app)
    launcher = FileLauncher(tmp_path / "launcher.db")
    procs = [start(app, launcher.path), start(app, launcher.path)]
    drift = triggers.get("drift").id
    churn = publish_drift(app, 6)
    wait_for(lambda: ran(launcher, drift) == len(churn), "the events to run", procs)
    churn += publish_drift(app, 4)
    wait_for(
        lambda: ran(launcher, drift) == len(churn) and ran(launcher, tick) >= 6, "slots and events", procs
    )
    stop(procs)
    slots = assert_each_slot_ran_once(app, triggers, launcher, time.time())
    assert_each_event_ran_once(app, triggers, launcher, churn)
    assert set(launcher.calls_per_key().values()) == {1}  # no firing was even submitted twice
    assert slots >= 6


def test_a_scheduler_killed_after_recording_a_firing_loses_nothing(app: App, tmp_path: Path) -> None:
    triggers, tick = every_second(app)
    launcher = FileLauncher(tmp_path / "launcher.db")
    churn = publish_drift(app, 4)
    dying = start(app, launcher.path, "--die-after-record")
    dying.communicate(timeout=60)
    assert dying.returncode == -signal.SIGKILL
    with app.db.read() as conn:
        left = conn.execute(select(firings_t.c.status)).scalars().all()
    assert left and set(left) == {"pending"} and launcher.calls_per_key() == {}
    procs = [start(app, launcher.path), start(app, launcher.path)]  # restarted, and a second one
    churn += publish_drift(app, 4)
    drift = triggers.get("drift").id
    wanted = len(left) + 4
    wait_for(
        lambda: ran(launcher, drift) == len(churn) and ran(launcher, tick) >= wanted,
        "slots and events",
        procs,
    )
    stop(procs)
    assert assert_each_slot_ran_once(app, triggers, launcher, time.time()) >= len(left) + 4
    assert_each_event_ran_once(app, triggers, launcher, churn)
    assert set(launcher.calls_per_key().values()) == {1}
