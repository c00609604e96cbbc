"""``shipyard events``: list and tail the event log (embedded, or against a server with events.read)."""

from __future__ import annotations

import dataclasses
import json as jsonlib
from typing import Annotated

import typer

from shipyard.cli.output import JsonOption, console, emit_json, format_time, new_table, plain
from shipyard.cli.state import get_client
from shipyard.core.clock import to_datetime
from shipyard.events.model import StoredEvent

app = typer.Typer(
    help="Read the event log: what happened to models, features and runs.", no_args_is_help=True
)

TypeOption = Annotated[
    list[str] | None,
    typer.Option("--type", "-t", help="Only this type; 'model.*' matches a prefix. Repeatable."),
]
WhereOption = Annotated[
    list[str] | None,
    typer.Option("--where", "-w", help="Only events whose payload has key=value. Repeatable."),
]


def _where(items: list[str] | None) -> dict[str, str]:
    from shipyard.events.filters import parse_where

    return parse_where(items or [])


def _payload(event: StoredEvent) -> str:
    return jsonlib.dumps(event.payload, sort_keys=True, ensure_ascii=False, separators=(", ", "="))


def _render(events: list[StoredEvent], title: str) -> None:
    table = new_table("seq", "at", "type", "actor", "payload", title=title)
    for e in events:
        table.add_row(
            str(e.seq), format_time(to_datetime(e.at)), plain(e.type), plain(e.actor), plain(_payload(e))
        )
    console.print(table)


@app.command("list")
def list_events(
    ctx: typer.Context,
    type: TypeOption = None,
    after: Annotated[int, typer.Option("--after", help="Only events after this seq.")] = 0,
    limit: Annotated[int, typer.Option("--limit", help="At most this many events.")] = 100,
    where: WhereOption = None,
    json: JsonOption = False,
) -> None:
    """List events, oldest first."""
    events = get_client(ctx).events.list(after=after, types=type or [], where=_where(where), limit=limit)
    if json:
        emit_json([dataclasses.asdict(e) for e in events])
        return
    _render(events, "Events")


@app.command("tail")
def tail(
    ctx: typer.Context,
    type: TypeOption = None,
    where: WhereOption = None,
    last: Annotated[int, typer.Option("--last", "-n", help="Show this many recent events first.")] = 10,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events (Ctrl+C stops).")
    ] = False,
    json: JsonOption = False,
) -> None:
    """The most recent events; with --follow, then each new one as it is committed (one per line)."""
    if not 0 <= last <= 1000:
        raise typer.BadParameter(f"--last must be between 0 and 1000, got {last}", param_hint="--last")
    feed = get_client(ctx).events.tail(types=type or [], where=_where(where), last=last, follow=follow)
    if not follow and not json:
        _render(list(feed), "Recent events")
        return
    try:
        for e in feed:
            if json:
                console.file.write(jsonlib.dumps(dataclasses.asdict(e), ensure_ascii=False) + "\n")
                console.file.flush()
            else:
                console.print(
                    f"{e.seq}  {format_time(to_datetime(e.at))}  {e.type}  {e.actor}  {_payload(e)}",
                    markup=False,
                    soft_wrap=True,
                )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
