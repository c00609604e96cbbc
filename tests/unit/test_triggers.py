"""Triggers and the scheduler on SQLite, with the in-memory launcher (the launcher port's test
implementation; real pipeline runs are the pipelines domain's business)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from shipyard.app import App
from shipyard.core.clock import to_ms
from shipyard.core.events import Event
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.events import log
from shipyard.pipelines.triggers.event_feed import EventLogFeed
from shipyard.pipelines.triggers.model import FiringStatus
from shipyard.pipelines.triggers.ports import MemoryLauncher
from shipyard.pipelines.triggers.records import firings_t, triggers_t
from shipyard.pipelines.triggers.scheduler import Scheduler, consumer_name
from shipyard.pipelines.triggers.service import TriggerService
from shipyard.registry.events import ModelPromoted

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def launcher() -> MemoryLauncher:
    return MemoryLauncher(pipelines={"train", "score"})


@dataclass(frozen=True)
class DriftDetected(Event):
    """What monitoring will publish (declared here: monitoring is not part of Shipyard yet)."""

    TYPE = "drift.detected"
    model: str
    share: float = 0.5


@dataclass
class Publisher:
    """Publishes real events into the app's event log."""

    app: App

    def publish(self, event: Event) -> int:
        with self.app.db.write() as conn:
            log.publish(conn, event, actor="monitor")
        return self.app.events.latest_seq()


@pytest.fixture
def feed(app: App) -> EventLogFeed:
    return EventLogFeed(app.events)


@pytest.fixture
def events(app: App) -> Publisher:
    return Publisher(app)


@pytest.fixture
def triggers(app: App, launcher: MemoryLauncher, feed: EventLogFeed) -> TriggerService:
    return TriggerService(app.db, launcher, pipelines=launcher, events=feed)


@pytest.fixture
def scheduler(app: App, launcher: MemoryLauncher, feed: EventLogFeed) -> Scheduler:
    return Scheduler(app.db, launcher, events=feed, grace_s=120)


def created_at(app: App, name: str, when: datetime) -> None:
    """Pretend the trigger was created (and last looked at) at ``when``."""
    with app.db.write() as conn:
        conn.execute(
            update(triggers_t)
            .where(triggers_t.c.name == name)
            .values(created_at=to_ms(when), cursor=str(to_ms(when)), next_check_at=to_ms(when))
        )


def slots(launcher: MemoryLauncher) -> list[str]:
    return [str(r.params.get("slot", "")) for r in launcher.runs]


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"kind": "schedule", "spec": {"cron": "every day"}}, "cron", "invalid cron expression"),
        ({"kind": "schedule", "spec": {"cron": "61 * * * *"}}, "cron", "invalid cron expression"),
        (
            {"kind": "schedule", "spec": {"cron": "0 * * * *", "timezone": "Mars/Olympus"}},
            "timezone",
            "unknown time zone",
        ),
        (
            {"kind": "schedule", "spec": {"cron": "0 * * * *", "catchup": "some"}},
            "catchup",
            "latest, all, none",
        ),
        (
            {"kind": "schedule", "spec": {"cron": "0 * * * *", "tz": "UTC"}},
            "spec",
            "unknown schedule spec field",
        ),
        ({"kind": "schedule", "spec": None}, "spec", "needs a spec"),
        ({"kind": "hourly"}, "kind", "kind must be one of"),
        ({"kind": "manual", "pipeline": "nope"}, "pipeline", "no pipeline named 'nope'"),
        ({"kind": "manual", "cooldown": -5}, "cooldown", "cooldown must be"),
        ({"kind": "manual", "max_concurrent": 0}, "max_concurrent", "max_concurrent must be"),
        ({"kind": "event", "spec": {"event_type": "model.exploded"}}, "event_type", "unknown event type"),
        ({"kind": "event", "spec": {"event_type": "Model Promoted"}}, "event_type", "dotted lower-case"),
        ({"kind": "event", "spec": {"event_type": "nothing.*"}}, "event_type", "unknown event type"),
        ({"kind": "new_data", "spec": {"source": "kafka"}}, "source", "source must be one of"),
        ({"kind": "new_data", "spec": {"source": "table", "url": "sqlite://"}}, "table", "table must be"),
        (
            {"kind": "new_data", "spec": {"source": "files", "path": "/x/*", "poll_seconds": 0}},
            "poll_seconds",
            "poll_seconds",
        ),
    ],
)
def test_bad_definitions_are_refused_naming_the_field(
    triggers: TriggerService, kwargs: dict[str, object], field: str, words: str
) -> None:
    args: dict[str, object] = {"pipeline": "train", **kwargs}
    with pytest.raises((InvalidInput, NotFound)) as info:
        triggers.create("t1", actor="ana", **args)  # type: ignore[arg-type]
    assert info.value.field == field
    assert words in str(info.value)
    assert triggers.list_triggers() == []


def test_names_are_unique_and_changes_are_audited(app: App, triggers: TriggerService) -> None:
    triggers.create(
        "nightly", "train", "schedule", {"cron": "0 2 * * *", "timezone": "Europe/Paris"}, actor="ana"
    )
    with pytest.raises(AlreadyExists):
        triggers.create("nightly", "score", "manual", actor="ana")
    triggers.update("nightly", params={"lr": 0.1}, cooldown=60, actor="bob")
    triggers.set_enabled("nightly", False, actor="bob")
    triggers.delete("nightly", actor="cy")
    records = app.audit.list(object_type="trigger")
    assert [(r.action, r.actor) for r in records] == [
        ("trigger.create", "ana"),
        ("trigger.update", "bob"),
        ("trigger.disable", "bob"),
        ("trigger.delete", "cy"),
    ]
    assert records[1].before["params"] == {} and records[1].after["params"] == {"lr": 0.1}
    assert app.audit.verify().valid
    with pytest.raises(NotFound):
        triggers.get("nightly")


# -- manual ------------------------------------------------------------------------------------------


def test_manual_fire_passes_parameters_and_is_idempotent_by_key(
    triggers: TriggerService, launcher: MemoryLauncher
) -> None:
    triggers.create("by-hand", "train", "manual", params={"lr": 0.1, "epochs": 3}, actor="ana")
    firing = triggers.fire("by-hand", {"lr": 0.5}, key="retrain-42", actor="bob")
    assert firing.status is FiringStatus.SUBMITTED and firing.run_id == launcher.runs[0].run_id
    assert launcher.runs[0].params == {"lr": 0.5, "epochs": 3}
    assert launcher.runs[0].started_by == "bob"
    again = triggers.fire("by-hand", {"lr": 0.5}, key="retrain-42", actor="bob")
    assert again.id == firing.id and len(launcher.runs) == 1
    triggers.set_enabled("by-hand", False, actor="ana")
    with pytest.raises(Conflict, match="disabled"):
        triggers.fire("by-hand", actor="bob")


def test_a_refused_submission_is_recorded_as_failed(
    triggers: TriggerService, launcher: MemoryLauncher
) -> None:
    triggers.create("by-hand", "train", "manual", actor="ana")
    launcher.pipelines.discard("train")  # the pipeline was deleted since
    firing = triggers.fire("by-hand", actor="bob")
    assert firing.status is FiringStatus.FAILED and "no pipeline named 'train'" in (firing.error or "")


# -- schedules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [
        ("all", ["2024-05-01T12:05:00+00:00", "2024-05-01T12:10:00+00:00", "2024-05-01T12:15:00+00:00"]),
        ("latest", ["2024-05-01T12:15:00+00:00"]),
        ("none", []),
    ],
)
def test_catch_up_policies_after_downtime(
    app: App,
    triggers: TriggerService,
    scheduler: Scheduler,
    launcher: MemoryLauncher,
    catchup: str,
    expected: list[str],
) -> None:
    spec = {"cron": "*/5 * * * *", "catchup": catchup, "slot_param": "slot"}
    triggers.create("every5", "train", "schedule", spec, actor="ana")
    created_at(app, "every5", T0)
    scheduler.tick(T0 + timedelta(minutes=18))  # down for 18 minutes: 3 slots missed, the last 3 min ago
    assert slots(launcher) == expected
    scheduler.tick(T0 + timedelta(minutes=18, seconds=30))  # nothing new
    assert slots(launcher) == expected
    scheduler.tick(T0 + timedelta(minutes=20, seconds=5))  # the next slot, on time, fires in every policy
    assert slots(launcher)[len(expected) :] == ["2024-05-01T12:20:00+00:00"]
    status = {s.trigger.name: s for s in triggers.status()}["every5"]
    assert status.last_firing is not None and status.last_firing.due_at == T0 + timedelta(minutes=20)
    assert status.trigger.next_check_at == T0 + timedelta(minutes=25)


def test_schedule_follows_local_time_across_dst(
    app: App, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher
) -> None:
    spec = {"cron": "30 2 * * *", "timezone": "Europe/Paris", "catchup": "all", "slot_param": "slot"}
    triggers.create("paris", "train", "schedule", spec, actor="ana")
    created_at(app, "paris", datetime(2024, 3, 29, tzinfo=UTC))
    for day in range(29, 32):  # spring forward on the night of 30-31 March
        scheduler.tick(datetime(2024, 3, day, 12, tzinfo=UTC))
    assert slots(launcher) == [
        "2024-03-29T02:30:00+01:00",
        "2024-03-30T02:30:00+01:00",
        "2024-03-31T03:00:00+02:00",  # 02:30 does not exist that night: the first valid time after it
    ]
    launcher.runs.clear()
    created_at(app, "paris", datetime(2024, 10, 26, 12, tzinfo=UTC))
    for hour in range(0, 24):  # fall back on 27 October: 02:30 happens twice, fires once
        scheduler.tick(datetime(2024, 10, 27, hour, 45, tzinfo=UTC))
    assert slots(launcher) == ["2024-10-27T02:30:00+02:00"]


def test_backfill_runs_one_run_per_slot_once(
    app: App, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher
) -> None:
    triggers.create("hourly", "train", "schedule", {"cron": "0 * * * *", "slot_param": "slot"}, actor="ana")
    created_at(app, "hourly", T0)
    scheduler.tick(T0 + timedelta(hours=2, minutes=1))  # latest: fires 14:00
    done = triggers.backfill("train", T0 - timedelta(hours=2), T0 + timedelta(hours=3), actor="bob")
    assert [f.due_at.hour for f in done] == [10, 11, 12, 13, 14]
    assert all(f.status is FiringStatus.SUBMITTED for f in done)
    assert sorted(slots(launcher)) == [f"2024-05-01T{h}:00:00+00:00" for h in (10, 11, 12, 13, 14)]
    triggers.backfill(
        "train", T0 - timedelta(hours=2), T0 + timedelta(hours=3), trigger="hourly", actor="bob"
    )
    assert len(launcher.runs) == 5
    with pytest.raises(InvalidInput, match="more than 1000 slots"):
        triggers.backfill("train", T0 - timedelta(days=60), T0, actor="bob")
    with pytest.raises(NotFound, match="no schedule trigger"):
        triggers.backfill("score", T0, T0 + timedelta(hours=1), actor="bob")


# -- cooldown and concurrency --------------------------------------------------------------------------


def test_cooldown_skips_firings_too_close_to_the_last(
    app: App, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher
) -> None:
    spec = {"cron": "*/10 * * * *", "catchup": "all", "slot_param": "slot"}
    triggers.create("often", "train", "schedule", spec, cooldown=25 * 60, actor="ana")
    created_at(app, "often", T0)
    scheduler.tick(T0 + timedelta(minutes=61))
    assert [s[11:16] for s in slots(launcher)] == ["12:10", "12:40"]  # 12:20, 12:30, 12:50, 13:00 skipped
    statuses = [(f.due_at.strftime("%H:%M"), f.status.value) for f in reversed(triggers.firings("often"))]
    assert statuses == [
        ("12:10", "submitted"),
        ("12:20", "skipped"),
        ("12:30", "skipped"),
        ("12:40", "submitted"),
        ("12:50", "skipped"),
        ("13:00", "skipped"),
    ]


def test_max_concurrent_holds_firings_until_a_run_finishes(
    app: App, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher
) -> None:
    spec = {"cron": "*/5 * * * *", "catchup": "all"}
    triggers.create("busy", "train", "schedule", spec, max_concurrent=2, actor="ana")
    created_at(app, "busy", T0)
    scheduler.tick(T0 + timedelta(minutes=21))  # 4 slots due, only 2 may run
    assert len(launcher.runs) == 2
    assert [s.pending for s in triggers.status()] == [2]
    scheduler.tick(T0 + timedelta(minutes=21, seconds=10))
    assert len(launcher.runs) == 2
    launcher.finish(launcher.runs[0].run_id)
    scheduler.tick(T0 + timedelta(minutes=21, seconds=20))
    assert len(launcher.runs) == 3
    for run in launcher.runs:
        launcher.finish(run.run_id)
    scheduler.tick(T0 + timedelta(minutes=21, seconds=30))
    assert len(launcher.runs) == 4 and [s.pending for s in triggers.status()] == [0]


# -- crash recovery ------------------------------------------------------------------------------------


def test_a_pending_firing_left_by_a_crash_is_submitted_once(
    app: App, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher
) -> None:
    triggers.create("every5", "train", "schedule", {"cron": "*/5 * * * *"}, actor="ana")
    created_at(app, "every5", T0)
    # A scheduler that recorded the firing and died before submitting it: evaluate + apply only.
    due = scheduler._due(to_ms(T0 + timedelta(minutes=6)))
    scheduler._apply([scheduler.evaluate(due[0], T0 + timedelta(minutes=6))])
    assert launcher.runs == []
    scheduler.tick(T0 + timedelta(minutes=6, seconds=5))
    scheduler.tick(T0 + timedelta(minutes=6, seconds=10))
    assert len(launcher.runs) == 1 and launcher.calls == 1


def test_a_claimed_firing_whose_scheduler_died_is_resubmitted_after_its_lease(
    app: App, triggers: TriggerService, launcher: MemoryLauncher, feed: EventLogFeed
) -> None:
    triggers.create("by-hand", "train", "manual", actor="ana")
    triggers.fire("by-hand", actor="ana")
    with app.db.write() as conn:  # as if the scheduler died after submitting, before marking it
        conn.execute(update(firings_t).values(status="submitting", claimed_by="dead", claimed_at=0))
    Scheduler(app.db, launcher, events=feed, lease_s=30).tick()
    assert launcher.calls == 2 and len(launcher.runs) == 1  # the launcher answered with the same run
    assert triggers.firings("by-hand")[0].status is FiringStatus.SUBMITTED


# -- new data ------------------------------------------------------------------------------------------


def test_new_partitions_fire_once_each(
    tmp_path: Path, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher
) -> None:
    folder = tmp_path / "activity"
    (folder / "month=2024-03").mkdir(parents=True)
    triggers.create(
        "fresh",
        "train",
        "new_data",
        {"source": "partitions", "path": str(folder), "poll_seconds": 1},
        actor="ana",
    )
    now = datetime.now(UTC)
    scheduler.tick(now)  # the first look sets the watermark
    assert launcher.runs == []
    (folder / "month=2024-04").mkdir()
    (folder / "month=2024-05").mkdir()
    scheduler.tick(now + timedelta(seconds=2))
    scheduler.tick(now + timedelta(seconds=4))
    assert [f.detail["partition"] for f in reversed(triggers.firings("fresh"))] == [
        "month=2024-04",
        "month=2024-05",
    ]
    assert len(launcher.runs) == 2
    (folder / "_tmp").mkdir()  # not a partition
    scheduler.tick(now + timedelta(seconds=6))
    assert len(launcher.runs) == 2


def test_new_files_fire_once_per_change(
    tmp_path: Path, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher
) -> None:
    triggers.create(
        "files",
        "train",
        "new_data",
        {"source": "files", "path": str(tmp_path / "*.csv"), "poll_seconds": 1},
        actor="ana",
    )
    now = datetime.now(UTC)
    scheduler.tick(now)
    (tmp_path / "a.csv").write_text("x\n1\n")
    scheduler.tick(now + timedelta(seconds=2))
    scheduler.tick(now + timedelta(seconds=4))
    assert len(launcher.runs) == 1
    (tmp_path / "b.csv").write_text("x\n2\n")
    (tmp_path / "notes.txt").write_text("ignored")
    scheduler.tick(now + timedelta(seconds=6))
    assert len(launcher.runs) == 2


def test_new_rows_in_a_table_fire_past_the_watermark(
    tmp_path: Path, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher
) -> None:
    path = tmp_path / "source.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE activity (user_id INTEGER, ts TEXT)")
        conn.execute("INSERT INTO activity VALUES (1, '2024-04-30T10:00:00')")
    spec = {
        "source": "table",
        "url": f"sqlite:///{path}",
        "table": "activity",
        "column": "ts",
        "poll_seconds": 1,
    }
    triggers.create("rows", "train", "new_data", spec, actor="ana")
    now = datetime.now(UTC)
    scheduler.tick(now)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO activity VALUES (2, '2024-05-01T09:00:00')")
    scheduler.tick(now + timedelta(seconds=2))
    scheduler.tick(now + timedelta(seconds=4))
    with sqlite3.connect(path) as conn:  # a late row, older than the watermark: not new data
        conn.execute("INSERT INTO activity VALUES (3, '2024-04-01T00:00:00')")
    scheduler.tick(now + timedelta(seconds=6))
    assert [f.detail["max"] for f in triggers.firings("rows")] == ["2024-05-01T09:00:00"]
    assert len(launcher.runs) == 1
    scheduler.close()


# -- events --------------------------------------------------------------------------------------------


def test_event_trigger_fires_once_per_matching_event(
    app: App, triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher, events: Publisher
) -> None:
    events.publish(DriftDetected("churn"))  # before the trigger: not fired
    trigger = triggers.create(
        "retrain",
        "train",
        "event",
        {"event_type": "drift.detected", "where": {"model": "churn"}},
        params={"reason": "drift"},
        actor="ana",
    )
    first = events.publish(DriftDetected("churn", 0.6))
    events.publish(DriftDetected("fraud"))
    events.publish(ModelPromoted("churn", 3, "production", 2))
    scheduler.tick()
    scheduler.tick()
    last = events.publish(DriftDetected("churn"))
    scheduler.tick()
    assert [f.detail["event_seq"] for f in reversed(triggers.firings("retrain"))] == [first, last]
    assert len(launcher.runs) == 2 and launcher.runs[0].params == {"reason": "drift"}
    assert launcher.runs[0].started_by == "trigger:retrain"
    # The trigger's durable consumer cursor in the event log moved with its firings.
    assert app.events.cursor(consumer_name(trigger.id)) == app.events.latest_seq()


def test_event_patterns_and_disabled_triggers(
    triggers: TriggerService, scheduler: Scheduler, launcher: MemoryLauncher, events: Publisher
) -> None:
    triggers.create("on-model", "train", "event", {"event_type": "model.*"}, actor="ana")
    triggers.set_enabled("on-model", False, actor="ana")
    events.publish(ModelPromoted("churn", 1, "production", None))
    scheduler.tick()
    triggers.set_enabled("on-model", True, actor="ana")  # starts from now
    scheduler.tick()
    assert launcher.runs == []
    events.publish(ModelPromoted("churn", 2, "production", 1))
    events.publish(DriftDetected("churn"))  # another domain: not matched
    scheduler.tick()
    assert len(launcher.runs) == 1
