"""Deployments: the revision poll every prediction server replica makes (one primary-key read), how
soon a poller sees a change, and one canary decider round over 100 canaries, on SQLite; the poll
and the change on PostgreSQL too when ``SHIPYARD_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from common import Result, percentile
from shipyard.migrations import runner
from shipyard.serving.deployments import DeploymentService
from shipyard.serving.model import CanaryPolicy, VersionWindow
from shipyard.storage.metadata.database import Database

POLLS = 2000
CANARIES = 100
WINDOWS = 20  # per version and canary, as 20 replicas would report one window each


class Versions:
    """Every model has versions 1 and 2 (the registry is not what is measured here)."""

    def resolve(self, model: str, ref: str) -> int:
        return int(ref)

    def set_alias(self, model: str, alias: str, version: int, *, actor: str) -> None:
        return None


def _poll(service: DeploymentService) -> tuple[float, float]:
    service.revision()
    times = []
    for _ in range(POLLS):
        began = time.perf_counter()
        service.revision()
        times.append((time.perf_counter() - began) * 1000)
    return percentile(times, 50), percentile(times, 99)


def _seen_after(service: DeploymentService, interval: float = 0.1) -> float:
    """Seconds from a committed change to a poller (every ``interval`` s) having seen it."""
    before = service.revision()
    seen = threading.Event()

    def poll() -> None:
        while service.revision() == before:
            time.sleep(interval)
        seen.set()

    thread = threading.Thread(target=poll)
    thread.start()
    service.deploy("bench-live", "churn@2", strategy="blue_green", actor="bench")
    committed = time.perf_counter()
    seen.wait(10)
    thread.join()
    return time.perf_counter() - committed


def _window(name: str, version: int, role: str, start: int) -> VersionWindow:
    compared = 0 if role == "primary" else 50
    return VersionWindow(name, "churn", version, role, start, start + 10_000, 50, 0,  # type: ignore[arg-type]
                         {5.0: 50, float("inf"): 50}, compared, compared)  # fmt: skip


def _round(service: DeploymentService) -> float:
    policy = CanaryPolicy(steps=(10, 50), step_seconds=0, min_requests=500)
    for i in range(CANARIES):
        start = service.deploy(
            f"bench-{i}", "churn@1", strategy="canary", challenger="churn@2", canary=policy, actor="bench"
        ).updated_at
        service.record(
            [
                _window(f"bench-{i}", v, r, start)
                for v, r in ((1, "primary"), (2, "challenger"))
                for _ in range(WINDOWS)
            ]
        )
    began = time.perf_counter()
    decided = service.decide(holder="bench")
    elapsed = time.perf_counter() - began
    assert len(decided) == CANARIES and {d.action for d in decided} == {"advance"}
    return elapsed


def _measure(db: Database, backend: str, *, decide: bool) -> list[Result]:
    service = DeploymentService(db, Versions())
    service.deploy("bench-live", "churn@1", strategy="blue_green", actor="bench")
    p50, p99 = _poll(service)
    results = [
        Result(f"deployments: revision() poll p50 ({backend})", p50, "ms"),
        Result(f"deployments: revision() poll p99 ({backend})", p99, "ms"),
        Result(
            f"deployments: a change seen by a replica polling every 100 ms ({backend})",
            _seen_after(service),
            "s",
            2.0,
        ),
    ]
    if decide:
        results.append(
            Result(
                f"deployments: decider round, {CANARIES} canaries x {2 * WINDOWS} windows ({backend})",
                _round(service),
                "s",
                note="each advances: 100 compare-and-set changes with audit records",
            )
        )
    return results


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as home:
        db = Database(f"sqlite:///{Path(home) / 'meta.db'}")
        runner.upgrade(db)
        results = _measure(db, "SQLite", decide=True)
        db.dispose()
    url = os.environ.get("SHIPYARD_TEST_POSTGRES_URL")
    if url:
        server = make_url(Database(url).engine.url)
        name = f"shipyard_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            db = Database(server.set(database=name).render_as_string(hide_password=False))
            runner.upgrade(db)
            results += _measure(db, "PostgreSQL", decide=True)
            db.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return results
