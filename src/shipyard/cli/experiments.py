"""``shipyard experiments``: list and create experiments."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from shipyard.cli.output import JsonOption, console, emit_json, format_time, new_table, plain
from shipyard.cli.state import get_client
from shipyard.tracking.model import Experiment

app = typer.Typer(help="List and create experiments.", no_args_is_help=True)


def experiment_dict(experiment: Experiment) -> dict[str, object]:
    return {
        "id": experiment.id,
        "name": experiment.name,
        "description": experiment.description,
        "created_at": experiment.created_at,
        "tags": dict(experiment.tags),
    }


@app.command("list")
def list_(ctx: typer.Context, json: JsonOption = False) -> None:
    """List every experiment."""
    experiments = get_client(ctx).tracking.list_experiments()
    if json:
        emit_json([experiment_dict(e) for e in experiments])
        return
    if not experiments:
        console.print("No experiments yet. Create one with `shipyard experiments create NAME`.")
        return
    table = new_table("id", "name", "description", "created", title="Experiments")
    for e in experiments:
        table.add_row(plain(e.id), plain(e.name), plain(e.description), format_time(e.created_at))
    console.print(table)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Experiment name, unique.")],
    description: Annotated[
        str, typer.Option("--description", "-d", help="What the experiment is about.")
    ] = "",
    json: JsonOption = False,
) -> None:
    """Create an experiment."""
    experiment = get_client(ctx).tracking.create_experiment(name, description=description)
    if json:
        emit_json(experiment_dict(experiment))
        return
    console.print(f"Created experiment [bold]{escape(experiment.name)}[/] ({experiment.id}).")
