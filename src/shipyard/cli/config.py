"""``shipyard config``: the effective settings and where each value came from."""

from __future__ import annotations

import typer

from shipyard.cli.output import JsonOption, console, emit_json, new_table, plain
from shipyard.cli.state import get_state
from shipyard.config import explain

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, json: JsonOption = False) -> None:
    """Show every setting: its value, where it came from and what it does.

    Sources, highest precedence first: environment (SHIPYARD_*), shipyard.toml, defaults.
    """
    rows = explain(get_state(ctx).settings)
    if json:
        emit_json(
            [
                {"name": r.name, "value": r.value, "source": r.source, "description": r.description}
                for r in rows
            ]
        )
        return
    table = new_table("name", "value", "source", "description", title="Settings")
    table.columns[0].no_wrap = True
    for r in rows:
        table.add_row(plain(r.name), plain(r.value), plain(r.source), plain(r.description))
    console.print(table)
