"""The demo's pipeline part: apply the training pipeline, give it a monthly schedule and a trigger
on new activity data, run it once, then append a month of activity and let the scheduler fire.

The new month has no labels yet, so the point-in-time join gives the same training set: the
second run rebuilds it and reuses the tuning, evaluation and registration of the first.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from shipyard.client.fluent import set_client
from shipyard.demo.data import MONTHS, generate_churn_data
from shipyard.demo.feature_repo import ACTIVITY_COLUMNS
from shipyard.demo.names import (
    CANDIDATE_ALIAS,
    NEW_DATA_TRIGGER,
    PIPELINE,
    SCHEDULE_CRON,
    SCHEDULE_TRIGGER,
    WATCHED_VIEW,
)
from shipyard.demo.registry_stage import MODEL
from shipyard.demo.training_pipeline import churn_training
from shipyard.errors import NotFound, ShipyardError
from shipyard.pipelines.model import PipelineRun, RunState

if TYPE_CHECKING:
    from collections.abc import Iterator

    from shipyard.client import Client

TRIALS = 6
#: How often the new-data trigger looks at the activity file (the demo waits this long once).
POLL_SECONDS = 1
RUN_TIMEOUT_S = 600.0
_FINAL = (RunState.SUCCEEDED, RunState.FAILED)


@dataclass(frozen=True)
class PipelineOutcome:
    pipeline: str
    schedule_trigger: str
    new_data_trigger: str
    first_run_id: str  # started by the demo
    new_data_run_id: str | None  # started by the new-data trigger (None if it did not fire)
    candidate_version: int | None  # the version the pipeline registered


def run_pipeline_stage(
    client: Client, data_dir: Path, console: Console, *, seed: int, rows: int, trials: int = TRIALS
) -> PipelineOutcome:
    """Apply the pipeline and its triggers, run it, append new activity, fire the new-data trigger."""
    user = client.user
    labels = data_dir / "churn_labels.parquet"
    params = {"labels": str(labels), "trials": trials, "seed": seed}
    with default_client(client):
        client.pipelines.apply(churn_training, actor=user)
        _recreate_triggers(client, params)
        scheduler = client.scheduler()
        scheduler.tick()  # the new-data trigger's first look sets its watermark: no firing yet
        next_slot = client.triggers.get(SCHEDULE_TRIGGER).next_check_at
        console.print(
            f"Pipeline {PIPELINE!r} applied, with triggers {SCHEDULE_TRIGGER!r} (cron {SCHEDULE_CRON!r}, UTC; "
            f"next {next_slot:%Y-%m-%d %H:%M} UTC) and {NEW_DATA_TRIGGER!r} (new files of the feature view "
            f"{WATCHED_VIEW!r})."
            if next_slot
            else f"Pipeline {PIPELINE!r} applied, with triggers {SCHEDULE_TRIGGER!r} and {NEW_DATA_TRIGGER!r}."
        )
        first = follow(client, client.pipelines.submit(PIPELINE, params, started_by=user), console, "Run 1")
        console.print(steps_table(first, "Run 1, started by the demo"))
        added = append_activity_month(data_dir, seed, rows)
        console.print(
            f"A new month of activity arrives: {added:,} rows appended to customer_activity.parquet."
        )
        time.sleep(POLL_SECONDS)  # the trigger looks again once its poll interval has passed
        report = scheduler.tick()
        watcher = client.triggers.get(NEW_DATA_TRIGGER).id
        fired = [f for f in report.submitted if f.trigger_id == watcher and f.run_id is not None]
        second = None
        if fired:
            second = follow(client, fired[0].run_id or "", console, "Run 2")
            console.print(steps_table(second, f"Run 2, fired by {NEW_DATA_TRIGGER!r}"))
            reused = sum(s.state is RunState.CACHED for s in second.steps)
            why = (
                "the new month has no labels yet, so the training set came out the same and "
                if reused == len(second.steps) - 1
                else ""
            )
            console.print(
                f"[bold green]✓[/] {NEW_DATA_TRIGGER} fired {len(fired)} time(s); {why}{reused} of "
                f"{len(second.steps)} steps were reused from earlier runs."
            )
        else:
            console.print(f"[yellow]{NEW_DATA_TRIGGER} did not fire:[/] {escape('; '.join(report.errors))}")
    candidate = _registered_version(client, first)
    return PipelineOutcome(
        PIPELINE, SCHEDULE_TRIGGER, NEW_DATA_TRIGGER, first.id, second.id if second else None, candidate
    )


@contextlib.contextmanager
def default_client(client: Client) -> Iterator[None]:
    """Make ``client`` the one pipeline steps reach through ``get_client()``, for this block (the
    steps run in this process, on the pipelines service's background thread)."""
    set_client(client)
    try:
        yield
    finally:
        set_client(None)


def _recreate_triggers(client: Client, params: dict[str, object]) -> None:
    """The demo's two triggers, new: an earlier demo's watermark would fire on this demo's files."""
    triggers, user = client.triggers, client.user
    for name in (SCHEDULE_TRIGGER, NEW_DATA_TRIGGER):
        with contextlib.suppress(NotFound):
            triggers.delete(name, actor=user)
    triggers.create(
        SCHEDULE_TRIGGER, PIPELINE, "schedule", {"cron": SCHEDULE_CRON, "timezone": "UTC"}, params=params,
        max_concurrent=1, description="Retrain on the month's data, early on the first of each month.",
        actor=user,
    )  # fmt: skip
    triggers.create(
        NEW_DATA_TRIGGER, PIPELINE, "new_data",
        {"source": "feature_view", "view": WATCHED_VIEW, "poll_seconds": POLL_SECONDS},
        params=params, max_concurrent=1, description="Retrain when new activity data lands.", actor=user,
    )  # fmt: skip


def follow(client: Client, run_id: str, console: Console, label: str) -> PipelineRun:
    """Wait for a pipeline run, with a progress bar of its steps."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    deadline = time.monotonic() + RUN_TIMEOUT_S
    run = client.pipelines.get_run(run_id)
    total = len(client.pipelines.get_pipeline(run.pipeline, run.version).nodes)
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{label}: queued", total=total)
        while True:
            run = client.pipelines.get_run(run_id)
            done = [s for s in run.steps if s.state not in (RunState.QUEUED, RunState.RUNNING)]
            running = [s.node for s in run.steps if s.state is RunState.RUNNING]
            progress.update(
                task,
                description=f"{label}: {', '.join(running) or run.state.value.lower()}",
                completed=len(done),
                total=total,
            )
            if run.state in _FINAL:
                return run
            if time.monotonic() > deadline:
                raise ShipyardError(f"pipeline run {run_id} did not finish within {RUN_TIMEOUT_S:.0f} s")
            time.sleep(0.2)


def steps_table(run: PipelineRun, title: str) -> Table:
    table = Table(title=f"{title}: {run.state.value}", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("step", "state", "seconds", "reused from"):
        table.add_column(column, justify="right" if column == "seconds" else "left", no_wrap=True)
    for s in run.steps:
        seconds = (
            f"{(s.finished_at - s.started_at).total_seconds():.1f}" if s.started_at and s.finished_at else "—"
        )
        colour = {RunState.CACHED: "cyan", RunState.SUCCEEDED: "green", RunState.FAILED: "red"}.get(s.state)
        state = f"[{colour}]{s.state.value.lower()}[/]" if colour else s.state.value.lower()
        table.add_row(escape(s.node), state, seconds, s.cached_from or "")
    return table


def append_activity_month(data_dir: Path, seed: int, rows: int, today: pd.Timestamp | None = None) -> int:
    """Append the month after the demo's year to the activity file, dated today; returns its rows.

    The file is rewritten under a temporary name and renamed, so a reader never sees half of it."""
    path = data_dir / "customer_activity.parquet"
    existing = pd.read_parquet(path)
    customers = rows // MONTHS  # as many as in the year already there, so the same ones go on
    month = generate_churn_data(customers * (MONTHS + 1), seed, months=MONTHS + 1)
    month = month[month["event_timestamp"] == month["event_timestamp"].max()]
    stamp = (today or pd.Timestamp.now(tz="UTC")).normalize()
    new = month[["customer_id", *ACTIVITY_COLUMNS]].assign(event_timestamp=stamp)[list(existing.columns)]
    new = new.astype(existing.dtypes.to_dict())
    partial = path.with_name(f".{path.name}.partial")
    pd.concat([existing, new], ignore_index=True).to_parquet(partial, index=False)
    partial.replace(path)
    return len(new)


def _registered_version(client: Client, run: PipelineRun) -> int | None:
    """The version the run registered (None if it did not succeed)."""
    if run.state is not RunState.SUCCEEDED:
        return None
    try:
        return client.registry.resolve(f"{MODEL}@{CANDIDATE_ALIAS}").version
    except NotFound:
        return None
