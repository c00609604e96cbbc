"""The scheduler over 10,000 enabled schedule triggers on SQLite: a tick where every one is due
(evaluate the cron, move the cursor, record the firing), the submission of those 10,000 firings
to an in-memory launcher, and a tick where none is due. ``BENCH_TRIGGERS`` changes the count."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, update

from common import Result, embedded_client
from shipyard.core.clock import to_ms
from shipyard.pipelines.triggers.dispatch import submit_pending
from shipyard.pipelines.triggers.ports import MemoryLauncher
from shipyard.pipelines.triggers.records import triggers_t
from shipyard.pipelines.triggers.scheduler import Scheduler

TRIGGERS = int(os.environ.get("BENCH_TRIGGERS", "10000"))
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class RecordOnly(Scheduler):
    """Evaluate and record; submission is measured on its own."""

    def tick_without_submitting(self, now: datetime) -> int:
        due = self._due(to_ms(now))
        return self._apply([self.evaluate(row, now) for row in due])


def run() -> list[Result]:
    launcher = MemoryLauncher(pipelines={"train"})
    with embedded_client() as client:
        app = client._local_app("benchmark")
        app.pipeline_launcher = launcher
        for i in range(TRIGGERS):
            app.triggers.create(f"t{i}", "train", "schedule", {"cron": f"{i % 60} * * * *"}, actor="bench")
        with app.db.write() as conn:  # as if last looked at an hour ago: each has one slot due now
            hour_ago = T0 - timedelta(hours=1)
            conn.execute(
                update(triggers_t)
                .where(triggers_t.c.name == bindparam("b_name"))
                .values(cursor=str(to_ms(hour_ago)), next_check_at=bindparam("b_next")),
                [
                    {"b_name": f"t{i}", "b_next": to_ms(hour_ago + timedelta(minutes=i % 60 or 60))}
                    for i in range(TRIGGERS)
                ],
            )
        scheduler = RecordOnly(app.db, launcher)
        started, cpu = time.perf_counter(), time.process_time()
        recorded = scheduler.tick_without_submitting(T0)
        evaluate, evaluate_cpu = time.perf_counter() - started, time.process_time() - cpu
        started = time.perf_counter()
        submitted = len(submit_pending(app.db, launcher))
        while batch := submit_pending(app.db, launcher):
            submitted += len(batch)
        submit = time.perf_counter() - started
        started = time.perf_counter()
        idle = scheduler.tick(T0 + timedelta(seconds=10))
        quiet = time.perf_counter() - started
    assert recorded == TRIGGERS and submitted == TRIGGERS and len(launcher.runs) == TRIGGERS
    assert idle.evaluated == 0
    return [
        Result("scheduler tick, 10,000 due triggers (evaluate + record)", evaluate, "s", 1.0),
        Result(
            "  the same, CPU time of the process", evaluate_cpu, "s", note="wall time counts a busy machine"
        ),
        Result("submit 10,000 firings (in-memory launcher)", submit, "s"),
        Result("scheduler tick, 10,000 triggers, none due", quiet * 1000, "ms"),
    ]
