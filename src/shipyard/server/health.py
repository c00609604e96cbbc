"""What ``/health`` answers from: the metadata database's state as last probed, held in memory.

``/health`` runs on the event loop and never waits for the database, nor for the threadpool the
write routes fill under load. A probe (``SELECT 1`` in a read transaction, which on SQLite takes no
writer lock) runs in a thread of its own, started by ``/health`` when the last result is older
than ``interval`` seconds; the answer reflects the database within that bound. Only the very first
call, with nothing probed yet, waits for a probe (at most ``first_wait`` seconds). A probe that
has not come back for ``stale`` seconds counts as the database being unavailable.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from sqlalchemy import text

from shipyard.app import App

logger = logging.getLogger("shipyard.server")


class HealthProbe:
    def __init__(
        self, app: App, *, interval: float = 0.5, stale: float = 5.0, first_wait: float = 5.0
    ) -> None:
        self.app = app
        self.interval = interval
        self.stale = stale
        self.first_wait = first_wait
        self._ok: bool | None = None
        self._at = 0.0  # when the last probe finished (monotonic)
        self._started = 0.0  # when the running probe started, 0 when none runs
        self._lock = threading.Lock()
        self._probed = threading.Event()

    async def database_ok(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._started and now - self._started > self.stale:
                return False  # a probe is stuck: the database does not answer
            if not self._started and now - self._at >= self.interval:
                self._started = now
                threading.Thread(target=self._probe, name="shipyard-health", daemon=True).start()
            ok = self._ok
        if ok is None:
            await asyncio.get_running_loop().run_in_executor(None, self._probed.wait, self.first_wait)
            ok = bool(self._ok)
        return ok

    def _probe(self) -> None:
        try:
            with self.app.db.read() as conn:
                conn.execute(text("SELECT 1"))
            ok = True
        except Exception:  # whatever the failure, the answer is "not ready"; details go to the log only
            logger.warning("health check: the metadata database is unavailable", exc_info=True)
            ok = False
        with self._lock:
            self._ok, self._at, self._started = ok, time.monotonic(), 0.0
        self._probed.set()
