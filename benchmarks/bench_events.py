"""The event log on SQLite: what publishing adds to a write transaction (the same one-row change
committed with and without a publish, interleaved), and a consumer reading 100,000 events through
its durable cursor (``EventLog.consume``: batches of 1,000, each acked)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from sqlalchemy import text

from common import Result, embedded_client
from shipyard.core.clock import now_ms
from shipyard.core.events import Event
from shipyard.core.ids import new_id
from shipyard.events import log
from shipyard.events.model import StoredEvent
from shipyard.storage.metadata.database import Database

TRANSACTIONS = 3000
EVENTS = 100_000
BATCH = 1000


@dataclass(frozen=True)
class ModelPromoted(Event):
    TYPE = "model.promoted"
    model: str
    version: int
    stage: str
    previous: int | None


def _change(db: Database, i: int, publish: bool) -> float:
    started = time.perf_counter()
    with db.write() as conn:
        conn.execute(text("INSERT INTO bench_change (id, n) VALUES (:id, :n)"), {"id": new_id(), "n": i})
        if publish:
            log.publish(conn, ModelPromoted("churn", i, "production", i - 1), actor="bench")
    return (time.perf_counter() - started) * 1000


def _fill(db: Database, count: int) -> None:
    """Append ``count`` events the way publish stores them, in bulk (publishing them one by one
    is what the first figure measures)."""
    with db.write() as conn:
        start = log.latest_seq(conn)
        at = now_ms()
        for offset in range(0, count, 10_000):
            rows = [
                {
                    "seq": start + n + 1,
                    "id": new_id(),
                    "type": "model.promoted",
                    "at": at,
                    "actor": "bench",
                    "payload": {"model": "churn", "version": n, "stage": "production", "previous": n - 1},
                    "request_id": None,
                }
                for n in range(offset, min(offset + 10_000, count))
            ]
            conn.execute(log.events_t.insert(), rows)
        conn.execute(log.head_t.delete())
        conn.execute(log.head_t.insert(), {"id": log.HEAD_ID, "seq": start + count})


def run() -> list[Result]:
    with embedded_client() as client:
        app = client._local_app("the benchmark")
        db = app.db
        with db.write() as conn:
            conn.execute(text("CREATE TABLE bench_change (id VARCHAR(32) PRIMARY KEY, n INTEGER)"))
        for i in range(200):  # warm up both paths
            _change(db, i, i % 2 == 0)
        plain, published = [], []
        for i in range(TRANSACTIONS):
            plain.append(_change(db, i, False))
            published.append(_change(db, i, True))
        added = statistics.median(published) - statistics.median(plain)

        _fill(db, EVENTS)
        handled = 0

        def handle(event: StoredEvent) -> None:
            nonlocal handled
            handled += 1

        events = app.events
        started = time.perf_counter()
        while events.consume("bench", handle, limit=BATCH):
            pass
        read_s = time.perf_counter() - started
    assert handled == EVENTS + TRANSACTIONS + 100
    return [
        Result("write transaction without a publish, SQLite (median)", statistics.median(plain), "ms"),
        Result("the same with a publish, SQLite (median)", statistics.median(published), "ms"),
        Result("publish added to a transaction, SQLite (median)", added, "ms", 0.5),
        Result(
            f"consumer reads {handled:,} events, SQLite",
            read_s,
            "s",
            1.0,
            note=f"EventLog.consume, batches of {BATCH:,}, each acked",
        ),
    ]
