"""The embedded online store: one SQLite file in WAL mode, one ``WITHOUT ROWID`` table per
namespace, read and written through the standard library's ``sqlite3`` (no SQLAlchemy on the hot
path: a one-key read is a single prepared ``SELECT``).

Each thread (and each forked process) gets its own connection. Writers wait for each other up to
``busy_timeout``; readers never block writers (WAL).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from shipyard.errors import BackendUnavailable, ConfigError
from shipyard.storage.kv.base import Row, check_namespace

#: Bound parameters per ``IN (...)`` read; well under SQLite's limit of 32766.
READ_CHUNK = 500


def _table(namespace: str) -> str:
    # Namespaces are checked against a safe alphabet, so quoting is enough.
    return f'"kv:{check_namespace(namespace)}"'


class SqliteOnlineStore:
    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._pid = os.getpid()

    @classmethod
    def from_url(cls, url: str) -> SqliteOnlineStore:
        """``sqlite:///relative/or/absolute/path.db``, ``sqlite:////abs/path.db`` or a plain path."""
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
        if not path or path == ":memory:":
            raise ConfigError(
                f"online store {url!r}: give a SQLite file path (use memory:// for a store in memory)"
            )
        return cls(path)

    # ---- connections -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._pid == os.getpid():
            return conn
        return self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            # A forked child must not touch its parent's handles: forget them without closing.
            self._pid = os.getpid()
            self._connections = []
            self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # autocommit; writes open their own IMMEDIATE transaction
                check_same_thread=False,
                cached_statements=512,
            )
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            self._enter_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise BackendUnavailable(f"cannot open the online store {self.path}: {exc}") from None
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _enter_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL. Two handles opening a new file at once race for the switch, and
        SQLite answers the loser ``database is locked`` without calling the busy handler, so the
        switch is retried (with a short backoff) until ``busy_timeout``."""
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                transient = "locked" in str(exc) or "busy" in str(exc)
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

    # ---- the port ----------------------------------------------------------------------------

    def write(self, namespace: str, rows: Iterable[Row]) -> int:
        table = _table(namespace)
        conn = self._connection()
        upsert = (
            f"INSERT INTO {table} (k, v, ts) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE "
            f"SET v = excluded.v, ts = excluded.ts WHERE excluded.ts >= {table}.ts"
        )
        try:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (k BLOB PRIMARY KEY, v BLOB NOT NULL, ts INTEGER NOT NULL) WITHOUT ROWID"
            )
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.executemany(upsert, rows)  # streams an iterator: nothing is copied
                applied = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable(f"online store {self.path}: cannot write {namespace!r}: {exc}") from None
        return applied

    def read(self, namespace: str, keys: Sequence[bytes]) -> list[tuple[bytes, int] | None]:
        table = _table(namespace)
        conn = self._connection()
        try:
            if len(keys) == 1:
                row = conn.execute(f"SELECT v, ts FROM {table} WHERE k = ?", (keys[0],)).fetchone()
                return [None if row is None else (row[0], row[1])]
            found: dict[bytes, tuple[bytes, int]] = {}
            for start in range(0, len(keys), READ_CHUNK):
                chunk = keys[start : start + READ_CHUNK]
                sql = f"SELECT k, v, ts FROM {table} WHERE k IN ({','.join('?' * len(chunk))})"
                found.update({k: (v, ts) for k, v, ts in conn.execute(sql, chunk)})
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return [None] * len(keys)
            raise BackendUnavailable(f"online store {self.path}: cannot read {namespace!r}: {exc}") from None
        return [found.get(k) for k in keys]

    def drop(self, namespace: str) -> None:
        table = _table(namespace)
        try:
            self._connection().execute(f"DROP TABLE IF EXISTS {table}")
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable(f"online store {self.path}: cannot drop {namespace!r}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        if self._pid == os.getpid():
            for conn in connections:
                conn.close()
        self._local = threading.local()
