"""The audit trail: one append in its own transaction (the cost a change pays on top of itself), and
verifying a 20,000-record chain, on SQLite; plus appends from 8 threads on PostgreSQL when
``SHIPYARD_TEST_POSTGRES_URL`` is set (they queue on the advisory lock)."""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from common import Result, embedded_client, percentile
from shipyard.audit import log
from shipyard.audit.service import AuditService
from shipyard.migrations import runner
from shipyard.storage.metadata.database import Database

APPENDS = 2000
CHAIN = 20_000
THREADS = 8
PER_THREAD = 250


def _append(db: Database, i: int) -> None:
    with db.write() as conn:
        log.append(
            conn,
            actor="bench",
            action="version.transition",
            object_type="model_version",
            object_id=f"churn/{i}",
            before={"stage": "staging"},
            after={"stage": "production"},
        )


def _postgres(url: str) -> list[Result]:
    server = make_url(Database(url).engine.url)
    name = f"shipyard_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        db = Database(server.set(database=name).render_as_string(hide_password=False))
        runner.upgrade(db)

        def work(offset: int) -> None:
            for i in range(PER_THREAD):
                _append(db, offset + i)

        threads = [threading.Thread(target=work, args=(t * PER_THREAD,)) for t in range(THREADS)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        assert AuditService(db).verify().valid
        db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return [Result(f"audit appends/s, {THREADS} threads, PostgreSQL", THREADS * PER_THREAD / elapsed, "/s")]


def run() -> list[Result]:
    with embedded_client() as client:
        db = client.audit.db
        times = []
        for i in range(APPENDS):
            started = time.perf_counter()
            _append(db, i)
            times.append((time.perf_counter() - started) * 1000)
        for i in range(APPENDS, CHAIN):
            _append(db, i)
        started = time.perf_counter()
        report = client.audit.verify()
        verify_s = time.perf_counter() - started
    assert report.valid and report.records == CHAIN
    results = [
        Result("audit append in its own transaction, SQLite (mean)", statistics.mean(times), "ms", 2.0),
        Result("audit append in its own transaction, SQLite (p95)", percentile(times, 95), "ms"),
        Result(f"audit verify, {CHAIN:,} records, SQLite", verify_s, "s", 2.0),
    ]
    url = os.environ.get("SHIPYARD_TEST_POSTGRES_URL")
    if url:
        results.extend(_postgres(url))
    return results
