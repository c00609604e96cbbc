"""Engines for the metadata database: SQLite (embedded) and PostgreSQL (psycopg 3).

SQLite runs in WAL mode with a busy timeout, ``synchronous=NORMAL`` and foreign keys on. Python's
sqlite3 driver begins transactions lazily and deferred, which lets two writers deadlock on the
upgrade from a read to a write lock; so we take over transaction control: write transactions start
with ``BEGIN IMMEDIATE`` (waiting up to the busy timeout for the writer lock), read-only ones with a
plain ``BEGIN``. Select with ``connection.execution_options(shipyard_readonly=True)``.

PostgreSQL connections are pooled, and one that sat in the pool for :data:`PING_AFTER_IDLE_S` or
more is pinged before it is handed out (one cheap round trip); a stale one is replaced then, so a
server restart or a firewall that dropped idle connections costs no request. A connection in
steady use is not pinged: the ping would be one more round trip in every transaction (about a
tenth of a small one), and a connection lost while busy fails that one transaction, after which
the pool is refilled.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError

from shipyard.errors import ConfigError

SQLITE_BUSY_TIMEOUT_S = 60.0
#: Seconds in the pool after which a PostgreSQL connection is pinged before use.
PING_AFTER_IDLE_S = 10.0


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _normalise(url: str) -> str:
    # "postgresql://" means psycopg 3 for us, not psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create (but do not connect) an engine for ``url``; ConfigError if the URL is unusable."""
    url = _normalise(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"invalid database URL {url!r}", field="db_url") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(
                parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}, **kwargs
            )
            _configure_sqlite(engine)
        else:
            kwargs.setdefault("pool_size", 5)
            kwargs.setdefault("max_overflow", 10)
            engine = create_engine(parsed, **kwargs)
            _ping_when_idle(engine)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = " (pip install 'shipyard[postgres]')" if "postgres" in url else ""
        raise ConfigError(f"no driver for database URL {parsed!r}: {exc}{hint}", field="db_url") from None
    return engine


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["shipyard_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("shipyard_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)  # what pool_pre_ping runs, in autocommit
        except Exception as exc:  # the pool replaces it and tries again
            raise DisconnectionError(f"a pooled connection was lost while idle: {exc}") from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("shipyard_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
