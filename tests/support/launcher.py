"""A pipeline launcher shared by several processes, for the scheduler concurrency and crash tests:
each submit call and each run is a row in a SQLite file, so the test can count them across
processes. Like the real launcher, it answers a repeated ``firing_key`` with the run it started."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping
from pathlib import Path


class FileLauncher:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS calls (firing_key TEXT, trigger_id TEXT, pid INTEGER)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS runs (run_id TEXT, firing_key TEXT UNIQUE, trigger_id TEXT)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def submit(
        self,
        name: str,
        params: Mapping[str, object],
        *,
        started_by: str,
        trigger_id: str | None = None,
        firing_key: str | None = None,
    ) -> str:
        import os

        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO calls VALUES (?, ?, ?)", (firing_key, trigger_id, os.getpid()))
            found = conn.execute("SELECT run_id FROM runs WHERE firing_key = ?", (firing_key,)).fetchone()
            run_id = found[0] if found else uuid.uuid4().hex
            if not found:
                conn.execute("INSERT INTO runs VALUES (?, ?, ?)", (run_id, firing_key, trigger_id))
            conn.execute("COMMIT")
            return str(run_id)
        finally:
            conn.close()

    def active_runs(self, trigger_id: str) -> int:
        return 0

    def runs_per_key(self) -> dict[str, int]:
        with self._connect() as conn:
            return dict(conn.execute("SELECT firing_key, count(*) FROM runs GROUP BY firing_key").fetchall())

    def calls_per_key(self) -> dict[str, int]:
        with self._connect() as conn:
            return dict(conn.execute("SELECT firing_key, count(*) FROM calls GROUP BY firing_key").fetchall())
