"""``shipyard db``: the metadata database schema."""

from __future__ import annotations

import typer

from shipyard.cli.output import JsonOption, console, emit_json
from shipyard.cli.state import get_client

app = typer.Typer(help="Manage the metadata database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Upgrade the metadata database to the schema this Shipyard needs (safe to repeat)."""
    client = get_client(ctx)
    before, head = client.database_revision()
    if before == head:
        console.print(f"The database is already at the current revision [bold]{head}[/].")
        return
    client.upgrade_database()
    after, _ = client.database_revision()
    console.print(f"Upgraded the database from {before or 'an empty schema'} to [bold]{after}[/].")


@app.command("current")
def current(ctx: typer.Context, json: JsonOption = False) -> None:
    """Show the database's schema revision and the one this Shipyard needs."""
    found, head = get_client(ctx).database_revision()
    if json:
        emit_json({"current": found, "head": head, "up_to_date": found == head})
        return
    console.print(f"current revision: [bold]{found or '(empty database)'}[/]")
    console.print(f"required (head):  [bold]{head}[/]")
    if found == head:
        console.print("[green]The database is up to date.[/]")
    else:
        console.print("[yellow]The database is behind: run `shipyard db upgrade`.[/]")
