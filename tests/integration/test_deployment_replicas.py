"""Two replica processes on PostgreSQL follow a blue-green switch, and the switch back, within 2 s
by polling :meth:`DeploymentService.revision` (one primary-key read), as prediction servers do."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from shipyard.migrations import runner
from shipyard.serving.deployments import DeploymentService
from shipyard.storage.metadata.database import Database
from support.databases import fresh_postgres_database
from support.deployments import MemoryCatalog

#: A replica: polls the revision every 100 ms; on a change prints the deployment's primary version.
REPLICA = """
import json, sys, time
from shipyard.serving.deployments import DeploymentService
from shipyard.storage.metadata.database import Database
service = DeploymentService(Database(sys.argv[1]), catalog=None)
seen = -1
while True:
    revision = service.revision()
    if revision != seen:
        seen = revision
        primary = service.get("churn-live").role("primary")
        print(json.dumps({"revision": revision, "version": primary.version}), flush=True)
    time.sleep(0.1)
"""


class Replica:
    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", REPLICA, url], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.lines: queue.Queue[dict[str, int]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def next(self, timeout: float) -> dict[str, int]:
        return self.lines.get(timeout=timeout)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        db = Database(url)
        runner.upgrade(db)
        db.dispose()
        yield url


def test_two_replicas_follow_a_blue_green_switch_within_two_seconds(url: str) -> None:
    db = Database(url)
    service = DeploymentService(db, MemoryCatalog())
    service.deploy("churn-live", "churn@1", strategy="blue_green", actor="dana")
    replicas = [Replica(url), Replica(url)]
    try:
        for replica in replicas:
            assert replica.next(timeout=30)["version"] == 1  # started and following
        for version, change in ((2, "switch"), (1, "switch back")):
            if change == "switch":
                changed = service.deploy("churn-live", "churn@2", strategy="blue_green", actor="dana")
            else:
                changed = service.rollback("churn-live", actor="dana")
            committed = time.monotonic()
            for replica in replicas:
                seen = replica.next(timeout=2.0 - (time.monotonic() - committed))
                assert seen == {"revision": changed.revision, "version": version}, change
            assert time.monotonic() - committed < 2.0
    finally:
        for replica in replicas:
            replica.stop()
        db.dispose()
