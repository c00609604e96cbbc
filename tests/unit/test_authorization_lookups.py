"""What authorization reads: a run's experiment in one small query, and several service reads in
one shared transaction (:meth:`Database.shared_read`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from shipyard.app import App
from shipyard.errors import NotFound
from shipyard.storage.metadata.database import Database


@contextmanager
def statements(db: Database) -> Iterator[tuple[list[str], list[int]]]:
    """The SQL statements run and the transactions begun on ``db`` inside the block."""
    seen: list[str] = []
    begun = [0]

    def on_execute(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    def on_begin(conn: object) -> None:
        begun[0] += 1

    event.listen(db.engine, "before_cursor_execute", on_execute)
    event.listen(db.engine, "begin", on_begin)
    try:
        yield seen, begun
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
        event.remove(db.engine, "begin", on_begin)


def test_a_runs_experiment_is_one_query_that_reads_no_params_or_metrics(app: App) -> None:
    experiment = app.tracking.create_experiment("churn", tags={"team": "growth"})
    run = app.tracking.create_run("churn")
    app.tracking.log_params(run.id, {"lr": 0.1})
    app.tracking.log_metrics(run.id, [("loss", 0.5, 0, 1)])
    with statements(app.db) as (seen, _):
        found = app.tracking.run_experiment(run.id)
    assert found == experiment
    queries = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 1
    tables = {name.strip('"') for name in re.findall(r"\b(?:FROM|JOIN)\s+(\S+)", queries[0])}
    assert tables == {"experiments", "runs"}


def test_an_unknown_runs_experiment_is_not_found(app: App) -> None:
    with pytest.raises(NotFound, match="run 'nope' does not exist") as caught:
        app.tracking.run_experiment("nope")
    assert caught.value.field == "run_id"


def test_reads_inside_a_shared_read_are_one_transaction(app: App) -> None:
    app.accounts.create_user("ann", role="viewer")
    secret = app.accounts.create_token("ann").secret
    app.tracking.create_experiment("churn")
    run = app.tracking.create_run("churn")
    with statements(app.db) as (_, begun), app.db.shared_read():
        principal = app.accounts.authenticate(secret)
        experiment = app.tracking.run_experiment(run.id)
        with app.db.shared_read():  # nested: still the same transaction
            allowed = app.accounts.allowed("ann", "tracking.read", experiment=experiment.name)
    assert principal.user.name == "ann" and experiment.name == "churn" and allowed
    assert begun[0] == 1
    with statements(app.db) as (_, begun):
        app.tracking.run_experiment(run.id)
        app.tracking.get_experiment("churn")
    assert begun[0] == 2  # outside the block, each read is its own transaction again


def test_a_write_inside_a_shared_read_commits_on_its_own(app: App) -> None:
    app.tracking.create_experiment("churn")
    with app.db.shared_read():
        run = app.tracking.create_run("churn")
        app.tracking.set_tags(run.id, {"stage": "trial"})
    assert app.tracking.get_run(run.id).tags == {"stage": "trial"}


def test_a_failing_block_releases_the_shared_read(app: App) -> None:
    app.tracking.create_experiment("churn")
    with pytest.raises(NotFound), app.db.shared_read():
        app.tracking.run_experiment("nope")
    with statements(app.db) as (_, begun):
        app.tracking.get_experiment("churn")
        app.tracking.get_experiment("churn")
    assert begun[0] == 2
