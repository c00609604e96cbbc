"""A scheduler process for the concurrency and crash tests: ``python scheduler_process.py DB_URL
LAUNCHER_DB [--die-after-record]``. It ticks every 0.1 s until SIGTERM. With
``--die-after-record`` it SIGKILLs itself right after its first tick records a firing, before
submitting anything: the crash the scheduler must recover from."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shipyard.events.service import EventLog
from shipyard.pipelines.triggers.event_feed import EventLogFeed
from shipyard.pipelines.triggers.scheduler import Evaluation, Scheduler
from shipyard.storage.metadata.database import Database
from support.launcher import FileLauncher


class DyingScheduler(Scheduler):
    def _apply(self, evaluations: list[Evaluation]) -> int:
        recorded = super()._apply(evaluations)
        if recorded:
            os.kill(os.getpid(), signal.SIGKILL)
        return recorded


def main() -> None:
    db_url, launcher_path = sys.argv[1], Path(sys.argv[2])
    cls = DyingScheduler if "--die-after-record" in sys.argv else Scheduler
    db = Database(db_url)
    scheduler = cls(db, FileLauncher(launcher_path), events=EventLogFeed(EventLog(db)), lease_s=5)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    scheduler.run(stop, interval=0.1)
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
