"""The event log on SQLite and on PostgreSQL: publish, list, filters, durable cursors, and the
ordering guarantee (a consumer never skips an event when transactions commit out of order)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from shipyard.app import App
from shipyard.core import context
from shipyard.core.events import Event
from shipyard.errors import InvalidInput
from shipyard.events import log
from shipyard.events.model import StoredEvent
from shipyard.events.service import EventLog
from support.databases import reset_events


@dataclass(frozen=True)
class Pinged(Event):
    TYPE = "test.pinged"
    name: str
    n: int
    ok: bool = True


@dataclass(frozen=True)
class Ponged(Event):
    TYPE = "other.ponged"
    name: str


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest) -> App:
    app: App = request.getfixturevalue(f"{request.param}_app")
    reset_events(app.db)
    return app


@pytest.fixture
def events(app: App) -> EventLog:
    return app.events


def publish(app: App, *items: Event, actor: str = "alice") -> None:
    with app.db.write() as conn:
        for item in items:
            log.publish(conn, item, actor=actor)


def test_published_events_are_listed_in_order_with_their_payload(app: App, events: EventLog) -> None:
    token = context.request_id.set("req-1")
    try:
        publish(app, Pinged("a", 1), Ponged("b"))
    finally:
        context.request_id.reset(token)
    first, second = events.list()
    assert (first.seq, first.type, first.payload) == (1, "test.pinged", {"name": "a", "n": 1, "ok": True})
    assert (second.seq, second.type, second.actor, second.request_id) == (2, "other.ponged", "alice", "req-1")
    assert events.latest_seq() == 2
    assert [e.seq for e in events.list(after=1)] == [2]


def test_a_rolled_back_transaction_leaves_no_event_and_no_gap(app: App, events: EventLog) -> None:
    with pytest.raises(RuntimeError), app.db.write() as conn:
        log.publish(conn, Pinged("lost", 0), actor="alice")
        raise RuntimeError("the change failed")
    publish(app, Pinged("kept", 1))
    assert [(e.seq, e.payload["name"]) for e in events.list()] == [(1, "kept")]


def test_filters_on_type_patterns_and_payload(app: App, events: EventLog) -> None:
    publish(app, Pinged("a", 1), Pinged("b", 2, ok=False), Ponged("a"), Pinged("a", 3))
    assert [e.seq for e in events.list(types=["test.pinged"])] == [1, 2, 4]
    assert [e.seq for e in events.list(types=["other.*"])] == [3]
    assert [e.seq for e in events.list(types=["test.*", "other.ponged"])] == [1, 2, 3, 4]
    assert [e.seq for e in events.list(where={"name": "a"})] == [1, 3, 4]
    assert [e.seq for e in events.list(where={"name": "a", "n": 3})] == [4]
    assert [e.seq for e in events.list(where={"n": "2"})] == [2]  # as typed on a command line
    assert [e.seq for e in events.list(where={"ok": False})] == [2]
    assert [e.seq for e in events.list(types=["test.*"], where={"name": "zzz"})] == []
    assert [e.seq for e in events.list(limit=2)] == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"after": -1}, "after"),
        ({"after": 2**63}, "after"),
        ({"types": ["Model.Promoted"]}, "type"),
        ({"types": ["model"]}, "type"),
        ({"types": ["model.*.x"]}, "type"),
        ({"where": {"bad key": 1}}, "where"),
        ({"where": {"score": 0.5}}, "where"),
    ],
)
def test_bad_filters_name_the_field(events: EventLog, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        events.list(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_consumer_cursor_is_durable_and_never_moves_back(app: App, events: EventLog) -> None:
    publish(app, *(Pinged("e", i) for i in range(5)))
    assert events.cursor("indexer") == 0
    batch = events.read("indexer", limit=3)
    assert [e.seq for e in batch.events] == [1, 2, 3] and batch.next_cursor == 3
    assert events.read("indexer", limit=3).events == batch.events  # not acked: delivered again
    events.ack("indexer", batch.next_cursor)
    events.ack("indexer", 1)  # late, stale ack
    assert events.cursor("indexer") == 3
    assert [e.seq for e in events.read("indexer").events] == [4, 5]
    assert events.cursor("other") == 0
    with pytest.raises(InvalidInput, match="past the end"):
        events.ack("indexer", 6)


def test_a_filtered_read_moves_the_cursor_past_skipped_events(app: App, events: EventLog) -> None:
    publish(app, Pinged("a", 1), Ponged("x"), Ponged("y"))
    handled: list[StoredEvent] = []
    assert events.consume("pings", handled.append, types=["test.*"]) == 1
    assert events.cursor("pings") == 3
    publish(app, Pinged("b", 2))
    assert events.consume("pings", handled.append, types=["test.*"]) == 1
    assert [e.payload["name"] for e in handled] == ["a", "b"]


def test_a_failing_handler_acks_nothing(app: App, events: EventLog) -> None:
    publish(app, Pinged("a", 1), Pinged("b", 2))

    def fail_on_b(event: StoredEvent) -> None:
        if event.payload["name"] == "b":
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        events.consume("fragile", fail_on_b)
    assert events.cursor("fragile") == 0


def test_advance_commits_a_consumers_effect_and_cursor_together(app: App, events: EventLog) -> None:
    publish(app, Pinged("a", 1))
    with pytest.raises(RuntimeError), app.db.write() as conn:
        log.advance(conn, "effects", 1)
        raise RuntimeError("the effect failed")
    assert events.cursor("effects") == 0
    with app.db.write() as conn:
        log.advance(conn, "effects", 1)
    assert events.cursor("effects") == 1


def _waiting_on_append_lock(app: App) -> bool:
    """Whether another session waits for the append lock (PostgreSQL; SQLite has no such view)."""
    with app.db.read() as conn:
        waiting = conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ).scalar()
    return bool(waiting)


def test_transactions_committing_out_of_order_are_seen_once_each(app: App, events: EventLog) -> None:
    """Writer A begins and publishes first; writer B publishes and tries to commit while A is still
    open; A commits, then B. A consumer polling throughout sees each event exactly once."""
    seen: list[int] = []

    def poll() -> None:
        events.consume("poller", lambda e: seen.append(e.seq))

    b_done = threading.Event()
    b_errors: list[BaseException] = []

    def writer_b() -> None:
        try:
            with app.db.write() as conn:
                log.publish(conn, Pinged("B", 2), actor="bob")
        except BaseException as exc:  # pragma: no cover - reported below
            b_errors.append(exc)
        finally:
            b_done.set()

    with app.db.write() as conn_a:
        log.publish(conn_a, Pinged("A", 1), actor="alice")
        poll()  # A is open: nothing is visible yet
        thread = threading.Thread(target=writer_b)
        thread.start()
        if app.db.dialect == "postgresql":
            # B has begun its transaction and waits for the append lock A holds.
            for _ in range(500):
                if _waiting_on_append_lock(app):
                    break
                b_done.wait(0.01)
            assert _waiting_on_append_lock(app)
        else:
            # On SQLite B waits for the writer lock A holds; it cannot commit while A is open.
            assert not b_done.wait(0.2)
        poll()
        assert seen == []
    thread.join(timeout=30)
    assert not b_errors and b_done.is_set()
    for _ in range(3):
        poll()
    by_seq = {e.seq: e.payload["name"] for e in events.list()}
    assert by_seq == {1: "A", 2: "B"}
    assert seen == [1, 2]


def test_many_concurrent_writers_and_a_poller_see_every_event_once(app: App, events: EventLog) -> None:
    writers, per_writer = 4, 25
    seen: list[int] = []
    stop = threading.Event()

    def write(name: str) -> None:
        for i in range(per_writer):
            publish(app, Pinged(name, i))

    def consume() -> None:
        while not stop.is_set():
            events.consume("racer", lambda e: seen.append(e.seq), limit=7)

    threads = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(writers)]
    poller = threading.Thread(target=consume)
    poller.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    poller.join()
    events.consume("racer", lambda e: seen.append(e.seq), limit=1000)
    assert seen == list(range(1, writers * per_writer + 1))
