"""PostgreSQL connections that sat in the pool are pinged before use: a connection the server
dropped while it was idle (a restart, a firewall) is replaced, and the caller never sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text

from shipyard.storage.metadata import engine as engines
from shipyard.storage.metadata.database import Database
from support.databases import fresh_postgres_database


def _backend_pid(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(Database(url).engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_a_connection_dropped_while_idle_is_replaced_unseen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection counts as idle
    with fresh_postgres_database() as url:
        db = Database(url)
        try:
            first = _backend_pid(db)
            _terminate(url, first)
            assert _backend_pid(db) != first  # the pool noticed and connected again
        finally:
            db.engine.dispose()


def test_a_busy_connection_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_S", 3600.0)
    with fresh_postgres_database() as url:
        db = Database(url)
        try:
            seen: list[str] = []
            event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
            for _ in range(3):
                _backend_pid(db)
            assert seen == ["SELECT pg_backend_pid()"] * 3  # no ping between transactions
        finally:
            db.engine.dispose()
