"""A consumer SIGKILLed in the middle of a batch resumes from its durable cursor: the unacked batch
is delivered again (at-least-once), and no event is ever skipped. The consumer is a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.core.events import Event
from shipyard.events import log
from shipyard.events.service import EventLog
from shipyard.migrations import runner
from shipyard.storage.metadata.database import Database
from support.databases import fresh_postgres_database

EVENTS, BATCH, KILL_AFTER = 40, 10, 15  # killed after handling half of the second batch

CONSUMER = """
import os, sys, threading
from shipyard.events.service import EventLog
from shipyard.storage.metadata.database import Database

url, out, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = EventLog(Database(url))
handled = 0

def handle(event):
    global handled
    with open(out, "a") as f:
        f.write(f"{event.seq}\\n")
        f.flush()
        os.fsync(f.fileno())
    handled += 1
    if handled == kill_after:
        with open(out + ".ready", "w") as f:
            f.write("ready")
        threading.Event().wait()  # mid-batch: wait here to be killed

while events.consume("mailer", handle, limit=int(sys.argv[4])):
    pass
"""


@dataclass(frozen=True)
class Sent(Event):
    TYPE = "test.sent"
    n: int


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(
                f"consumer exited early: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            raise AssertionError("consumer never reached the middle of its second batch")
        time.sleep(0.02)


def test_a_killed_consumer_resumes_from_its_cursor_without_skipping(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    runner.upgrade(db)
    with db.write() as conn:
        for n in range(EVENTS):
            log.publish(conn, Sent(n), actor="system")
    out = tmp_path / "handled.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, db_url, str(out), str(KILL_AFTER), str(BATCH)],
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        _wait_for(Path(f"{out}.ready"), proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    first_run = [int(line) for line in out.read_text().split()]
    assert first_run == list(range(1, KILL_AFTER + 1))

    events = EventLog(db)
    assert events.cursor("mailer") == BATCH  # the first batch was acked, the second was not
    second_run: list[int] = []
    while events.consume("mailer", lambda e: second_run.append(e.seq), limit=BATCH):
        pass
    assert second_run == list(range(BATCH + 1, EVENTS + 1))  # the unacked batch again, then the rest
    assert set(first_run) | set(second_run) == set(range(1, EVENTS + 1))  # nothing skipped
    assert events.cursor("mailer") == EVENTS
    db.dispose()
