"""Concurrent appends never fork the audit chain: threads and processes writing at once leave one
chain with seq 1..N and every link valid, on PostgreSQL (advisory lock) and SQLite (writer lock)."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import threading
from pathlib import Path

import pytest

from shipyard.audit import log
from shipyard.audit.service import AuditService
from shipyard.migrations import runner
from shipyard.storage.metadata.database import Database
from support.databases import fresh_postgres_database

THREADS = 8
PROCESSES = 4
APPENDS = 25


def _append_many(url: str, worker: str) -> None:
    db = Database(url)
    try:
        for i in range(APPENDS):
            with db.write() as conn:
                log.append(
                    conn, actor=worker, action="model.create", object_type="model", object_id=f"{worker}-{i}"
                )
    finally:
        db.dispose()


def _run_threads(url: str, errors: list[BaseException]) -> None:

    def work(name: str) -> None:
        try:
            _append_many(url, name)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)


def _run_processes(url: str) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(url, f"p{n}")) for n in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES


def _assert_one_chain(db: Database, expected: int) -> None:
    audit = AuditService(db)
    records = audit.list(limit=10_000)
    assert [r.seq for r in records] == list(range(1, expected + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    report = audit.verify()
    assert (report.valid, report.records, report.head_seq) == (True, expected, expected)


@pytest.mark.postgres
def test_threads_and_processes_keep_one_chain_on_postgres() -> None:
    with fresh_postgres_database() as url:
        db = Database(url)
        runner.upgrade(db)
        errors: list[BaseException] = []
        threads = threading.Thread(target=_run_threads, args=(url, errors))
        threads.start()  # threads of this process and other processes append at the same time
        _run_processes(url)
        threads.join(timeout=120)
        assert errors == []
        _assert_one_chain(db, (THREADS + PROCESSES) * APPENDS)
        db.dispose()


def test_threads_keep_one_chain_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    db = Database(url)
    runner.upgrade(db)
    errors: list[BaseException] = []
    _run_threads(url, errors)
    assert errors == []
    _assert_one_chain(db, THREADS * APPENDS)
    db.dispose()
