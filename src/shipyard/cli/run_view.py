"""What ``shipyard runs show`` gathers about one run, and how it prints it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from shipyard.cli.output import (
    console,
    environment_dict,
    format_duration,
    format_number,
    format_size,
    format_time,
    key_value_table,
    new_table,
    plain,
    run_dict,
    short_digest,
    status_text,
)
from shipyard.core.ids import is_id
from shipyard.errors import InvalidInput, NotFound
from shipyard.tracking.api import TrackingAPI
from shipyard.tracking.model import Artifact, Run, RunDataset

if TYPE_CHECKING:
    from shipyard.client import Client

MAX_CHILDREN = 1000


@dataclass(frozen=True)
class RunDetail:
    run: Run
    experiment: str
    parent: Run | None
    children: list[Run]
    datasets: list[RunDataset]
    artifacts: list[Artifact]


#: The shortest run id prefix accepted: fewer hex digits would be ambiguous in most stores.
MIN_PREFIX = 4


def resolve_run_id(tracking: TrackingAPI, text: str) -> str:
    """A whole run id, or the one run id that starts with ``text`` (as ``git`` takes a commit's
    prefix); an unknown or ambiguous prefix is an error naming the matches."""
    prefix = text.strip().lower()
    if is_id(prefix):
        return prefix
    if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
        raise InvalidInput(
            f"{text!r} is not a run id: give the 32 hex digits or a unique prefix of at least "
            f"{MIN_PREFIX} of them",
            field="run",
        )
    found = tracking.search_runs(None, f"id LIKE '{prefix}%'", ("id ASC",), 6)
    if not found:
        raise NotFound(f"no run id starts with {prefix!r}", field="run")
    if len(found) > 1:
        shown = ", ".join(r.id for r in found[:5]) + (", …" if len(found) > 5 else "")
        raise InvalidInput(
            f"run id prefix {prefix!r} is ambiguous: it starts {shown}; give more digits", field="run"
        )
    return found[0].id


def load(client: Client, run_id: str) -> RunDetail:
    tracking = client.tracking
    run = tracking.get_run(resolve_run_id(tracking, run_id))
    return RunDetail(
        run=run,
        experiment=tracking.get_experiment(run.experiment_id).name,
        parent=tracking.get_run(run.parent_id) if run.parent_id else None,
        children=tracking.search_runs(None, f"parent_id = '{run.id}'", ("start_time ASC",), MAX_CHILDREN),
        datasets=tracking.run_datasets(run.id),
        artifacts=tracking.list_artifacts(run.id),
    )


def detail_dict(detail: RunDetail) -> dict[str, object]:
    """The stable JSON form of ``runs show``."""
    out = run_dict(detail.run, {detail.run.experiment_id: detail.experiment})
    out["environment"] = environment_dict(detail.run.environment)
    out["children"] = [{"id": c.id, "name": c.name, "status": c.status} for c in detail.children]
    out["datasets"] = [
        {
            "name": d.dataset.name,
            "direction": d.direction,
            "context": d.context,
            "digest": d.dataset.digest,
            "num_rows": d.dataset.num_rows,
            "location": d.dataset.location,
            "source_type": d.dataset.source_type,
            "schema": [{"name": c.name, "type": c.type} for c in d.dataset.schema],
        }
        for d in detail.datasets
    ]
    out["artifacts"] = [
        {"path": a.path, "digest": a.digest, "size": a.size, "created_at": a.created_at}
        for a in detail.artifacts
    ]
    return out


def _summary(detail: RunDetail) -> Table:
    run = detail.run
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("id", plain(run.id))
    grid.add_row("experiment", plain(f"{detail.experiment} ({run.experiment_id})"))
    grid.add_row("status", status_text(run.status))
    grid.add_row("user", plain(run.user))
    grid.add_row("started", format_time(run.start_time))
    grid.add_row("ended", format_time(run.end_time))
    grid.add_row("duration", format_duration(run.duration))
    if detail.parent is not None:
        grid.add_row("parent", plain(f"{detail.parent.name} ({detail.parent.id})"))
    if run.note:
        grid.add_row("note", plain(run.note))
    env = run.environment
    if env is not None:
        git = "—" if env.git_commit is None else env.git_commit[:12] + (" (dirty)" if env.git_dirty else "")
        grid.add_row("python", plain(f"{env.python_version} on {env.platform}"))
        grid.add_row("git", plain(git))
        grid.add_row("command", plain(env.command))
        grid.add_row("packages", plain(f"{len(env.packages)} recorded"))
    return grid


def _metrics(run: Run) -> Table:
    table = new_table("key", "value", "step", title="Metrics (latest)")
    table.columns[1].justify = "right"
    for key in sorted(run.metrics):
        metric = run.metrics[key]
        table.add_row(plain(key), format_number(metric.value), str(metric.step))
    return table


def _datasets(datasets: list[RunDataset]) -> Table:
    table = new_table("name", "role", "rows", "digest", "location", title="Datasets")
    for d in datasets:
        role = "output" if d.direction.value == "output" else f"input ({d.context})"
        rows = "—" if d.dataset.num_rows is None else f"{d.dataset.num_rows:,}"
        table.add_row(
            plain(d.dataset.name), role, rows, short_digest(d.dataset.digest), plain(d.dataset.location)
        )
    return table


def _artifacts(artifacts: list[Artifact]) -> Table:
    table = new_table("path", "size", "digest", title="Artifacts")
    for a in artifacts:
        table.add_row(plain(a.path), format_size(a.size), short_digest(a.digest))
    return table


def _children(children: list[Run]) -> Table:
    table = new_table("run id", "name", "status", "duration", title="Child runs")
    for c in children:
        table.add_row(plain(c.id), plain(c.name), status_text(c.status), format_duration(c.duration))
    return table


def render(detail: RunDetail) -> None:
    run = detail.run
    console.print(Panel(_summary(detail), title=Text(f"run {run.name}", style="bold"), expand=False))
    parts: list[Table] = []
    if run.params:
        parts.append(key_value_table(run.params, title="Params"))
    if run.metrics:
        parts.append(_metrics(run))
    if run.tags:
        parts.append(key_value_table(run.tags, title="Tags"))
    if detail.datasets:
        parts.append(_datasets(detail.datasets))
    if detail.artifacts:
        parts.append(_artifacts(detail.artifacts))
    if detail.children:
        parts.append(_children(detail.children))
    console.print(Group(*parts))
