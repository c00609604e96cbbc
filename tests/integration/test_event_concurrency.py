"""Concurrent publishers keep the event log gapless and in commit order: threads publishing at once
(some also appending an audit record first, some rolling back) leave seqs 1..N, one per committed
event, and the head at N, on PostgreSQL (one statement under the append lock) and SQLite (the
writer lock)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.audit import log as audit_log
from shipyard.events import log
from shipyard.events.service import EventLog
from shipyard.storage.metadata.database import Database
from shipyard.tracking.events import RunFinished
from support.databases import migrated_database

THREADS = 6
PUBLISHES = 20


class _Abandoned(Exception):
    """Raised inside a transaction to roll its event back."""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(request.param, tmp_path) as database:
        yield database


def test_concurrent_publishers_leave_a_gapless_log_in_commit_order(db: Database) -> None:
    errors: list[BaseException] = []
    committed: list[str] = []
    lock = threading.Lock()

    def publish(worker: int) -> None:
        try:
            for i in range(PUBLISHES):
                run_id = f"w{worker}-{i}"
                try:
                    with db.write() as conn:
                        if i % 3 == 0:  # an audited change: the audit record, then the event
                            audit_log.append(
                                conn, actor="t", action="run.end", object_type="run", object_id=run_id
                            )
                        log.publish(
                            conn, RunFinished(run_id=run_id, experiment_id="e", status="FINISHED"), actor="t"
                        )
                        if i % 5 == 4:
                            raise _Abandoned  # rolled back after taking a seq: it must not leave a gap
                except _Abandoned:
                    continue
                with lock:
                    committed.append(run_id)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    events = EventLog(db).list(limit=10_000)
    assert [e.seq for e in events] == list(range(1, len(committed) + 1))
    assert sorted(e.payload["run_id"] for e in events) == sorted(committed)
    assert EventLog(db).latest_seq() == len(committed)
    # Each worker's events are in the order it committed them.
    for n in range(THREADS):
        mine = [
            int(e.payload["run_id"].split("-")[1]) for e in events if e.payload["run_id"].startswith(f"w{n}-")
        ]
        assert mine == sorted(mine)
