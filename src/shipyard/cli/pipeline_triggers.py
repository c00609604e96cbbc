"""``shipyard pipelines triggers …`` and ``shipyard pipelines backfill``: define, list, change,
enable, disable, delete and fire triggers, and run a schedule's slots over a past range. The acting user
is the client's user in embedded mode; with ``SHIPYARD_URL`` set the server acts as the token's
user and checks its roles."""

from __future__ import annotations

import json as jsonlib
from datetime import datetime
from typing import Annotated, Any

import typer

from shipyard.cli import trigger_views as views
from shipyard.cli.output import JsonOption, console, emit_json
from shipyard.cli.state import get_client
from shipyard.errors import InvalidInput
from shipyard.pipelines.triggers.api import TriggersAPI

app = typer.Typer(
    help="Start pipelines on demand, on a schedule, on new data or on events.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Trigger name.")]
Pairs = Annotated[list[str] | None, typer.Option(help="KEY=VALUE (repeatable); VALUE is JSON if it parses.")]


def _api(ctx: typer.Context) -> tuple[TriggersAPI, str]:
    client = get_client(ctx)
    return client.triggers, client.user


def parse_pairs(pairs: list[str] | None, field: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--{field} takes KEY=VALUE, got {pair!r}", field=field)
        try:
            out[key] = jsonlib.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def parse_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"--{field} must be an ISO 8601 time (2024-05-01T00:00+00:00), got {value!r}", field=field
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(
            f"--{field} needs a time zone offset (2024-05-01T00:00+00:00), got {value!r}", field=field
        )
    return parsed


def _spec(
    kind: str | None,
    cron: str | None,
    timezone: str,
    catchup: str,
    slot_param: str | None,
    files: str | None,
    partitions: str | None,
    table: str | None,
    url: str | None,
    column: str | None,
    view: str | None,
    poll: int,
    event: str | None,
    where: dict[str, Any],
) -> tuple[str, dict[str, Any] | None]:
    if cron is not None:
        return kind or "schedule", {
            "cron": cron,
            "timezone": timezone,
            "catchup": catchup,
            "slot_param": slot_param,
        }
    if event is not None:
        return kind or "event", {"event_type": event, "where": where}
    source = {"files": files, "partitions": partitions, "table": table, "feature_view": view}
    given = [k for k, v in source.items() if v is not None]
    if len(given) > 1:
        raise InvalidInput(
            f"give one of --files, --partitions, --table, --view, not {', '.join(given)}", field="source"
        )
    if given:
        kind_of = given[0]
        spec: dict[str, Any] = {"source": kind_of, "poll_seconds": poll}
        if kind_of in ("files", "partitions"):
            spec["path"] = source[kind_of]
        elif kind_of == "table":
            spec |= {"url": url, "table": table, "column": column}
        else:
            spec["view"] = view
        return kind or "new_data", spec
    return kind or "manual", None


@app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    pipeline: Annotated[str, typer.Option("--pipeline", "-p", help="The pipeline it starts.")],
    cron: Annotated[str | None, typer.Option(help="Schedule: a cron expression ('0 2 * * *').")] = None,
    timezone: Annotated[str, typer.Option(help="Schedule: IANA time zone of the cron.")] = "UTC",
    catchup: Annotated[
        str, typer.Option(help="Schedule: missed slots to run: latest, all or none.")
    ] = "latest",
    slot_param: Annotated[
        str | None, typer.Option(help="Schedule: pass the slot time as this parameter.")
    ] = None,
    files: Annotated[
        str | None,
        typer.Option(help="New data: a file glob to watch (local, or s3://bucket/prefix/*.parquet)."),
    ] = None,
    partitions: Annotated[
        str | None, typer.Option(help="New data: a folder of partitions to watch (local or s3://).")
    ] = None,
    table: Annotated[str | None, typer.Option(help="New data: a SQL table to watch (with --url).")] = None,
    url: Annotated[
        str | None,
        typer.Option(help="New data: the database of --table (postgresql://…, duckdb:///file.duckdb …)."),
    ] = None,
    column: Annotated[
        str | None, typer.Option(help="New data: the table's timestamp column (else the row count).")
    ] = None,
    view: Annotated[str | None, typer.Option(help="New data: a feature view whose source to watch.")] = None,
    poll: Annotated[int, typer.Option(help="New data: seconds between looks at the source.")] = 60,
    event: Annotated[
        str | None, typer.Option(help="Event: the event type ('drift.detected', 'model.*').")
    ] = None,
    where: Pairs = None,
    param: Pairs = None,
    cooldown: Annotated[int, typer.Option(help="Seconds between two firings.")] = 0,
    max_concurrent: Annotated[int | None, typer.Option(help="Queued or running runs at most.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    kind: Annotated[str | None, typer.Option(help="manual, schedule, new_data or event (inferred).")] = None,
    json: JsonOption = False,
) -> None:
    """Create a trigger: on demand, --cron, --files/--partitions/--table/--view, or --event."""
    api, user = _api(ctx)
    kind, spec = _spec(
        kind,
        cron,
        timezone,
        catchup,
        slot_param,
        files,
        partitions,
        table,
        url,
        column,
        view,
        poll,
        event,
        parse_pairs(where, "where"),
    )
    trigger = api.create(
        name,
        pipeline,
        kind,
        spec,
        params=parse_pairs(param, "param"),
        enabled=not disabled,
        cooldown=cooldown,
        max_concurrent=max_concurrent,
        description=description,
        actor=user,
    )
    if json:
        emit_json(views.trigger_dict(trigger))
        return
    console.print(
        f"Created {trigger.kind.value} trigger {trigger.name!r} on pipeline {trigger.pipeline!r}: {views.what(trigger)}"
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Option("--pipeline", "-p", help="Only this pipeline's.")] = None,
    json: JsonOption = False,
) -> None:
    """List triggers."""
    api, _ = _api(ctx)
    triggers = api.list_triggers(pipeline=pipeline)
    if json:
        emit_json([views.trigger_dict(t) for t in triggers])
    elif not triggers:
        console.print(
            "No triggers yet. Create one with `shipyard pipelines triggers create NAME -p PIPELINE`."
        )
    else:
        views.triggers_table(triggers)


@app.command("show")
def show(ctx: typer.Context, name: Name, json: JsonOption = False) -> None:
    """Show a trigger and its latest firings."""
    api, _ = _api(ctx)
    trigger = api.get(name)
    firings = api.firings(name, limit=20)
    if json:
        emit_json({**views.trigger_dict(trigger), "firings": [views.firing_dict(f) for f in firings]})
        return
    views.triggers_table([trigger])
    views.firings_table(firings, f"Latest firings of {name}")


@app.command("update")
def update(
    ctx: typer.Context,
    name: Name,
    cron: Annotated[str | None, typer.Option(help="Schedule: a new cron expression.")] = None,
    timezone: Annotated[str | None, typer.Option(help="Schedule: a new IANA time zone.")] = None,
    catchup: Annotated[str | None, typer.Option(help="Schedule: latest, all or none.")] = None,
    poll: Annotated[int | None, typer.Option(help="New data: seconds between looks at the source.")] = None,
    where: Pairs = None,
    param: Pairs = None,
    clear_params: Annotated[
        bool, typer.Option("--clear-params", help="Remove every parameter (then add --param ones).")
    ] = False,
    cooldown: Annotated[int | None, typer.Option(help="Seconds between two firings (0: none).")] = None,
    max_concurrent: Annotated[int | None, typer.Option(help="Queued or running runs at most.")] = None,
    no_limit: Annotated[
        bool, typer.Option("--no-limit", help="Remove the limit on concurrent runs.")
    ] = False,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    json: JsonOption = False,
) -> None:
    """Change a trigger: its schedule, poll interval, event filter, parameters, cooldown or
    concurrency limit. What is not given is kept; a changed spec restarts the trigger from now."""
    if max_concurrent is not None and no_limit:
        raise InvalidInput("give --max-concurrent or --no-limit, not both", field="max_concurrent")
    api, user = _api(ctx)
    current = api.get(name)
    changes: dict[str, Any] = {
        k: v
        for k, v in (("cron", cron), ("timezone", timezone), ("catchup", catchup), ("poll_seconds", poll))
        if v is not None
    }
    if where:
        changes["where"] = parse_pairs(where, "where")
    spec = None
    if changes:
        if current.spec is None:
            raise InvalidInput(f"trigger {name!r} is manual: it has no spec to change", field="spec")
        spec = {**current.spec.to_dict(), **changes}
    params = None
    if param or clear_params:
        params = {**({} if clear_params else current.params), **parse_pairs(param, "param")}
    trigger = api.update(
        name,
        spec=spec,
        params=params,
        cooldown=cooldown,
        max_concurrent=None if no_limit else (max_concurrent if max_concurrent is not None else False),
        description=description,
        actor=user,
    )
    if json:
        emit_json(views.trigger_dict(trigger))
        return
    console.print(f"Updated {trigger.kind.value} trigger {trigger.name!r}: {views.what(trigger)}")


@app.command("enable")
def enable(ctx: typer.Context, name: Name) -> None:
    """Enable a trigger (it starts from now: nothing missed while disabled fires)."""
    api, user = _api(ctx)
    api.set_enabled(name, True, actor=user)
    console.print(f"Enabled trigger {name!r}.")


@app.command("disable")
def disable(ctx: typer.Context, name: Name) -> None:
    """Disable a trigger."""
    api, user = _api(ctx)
    api.set_enabled(name, False, actor=user)
    console.print(f"Disabled trigger {name!r}.")


@app.command("delete")
def delete(ctx: typer.Context, name: Name) -> None:
    """Delete a trigger and its firing history (the runs it started stay)."""
    api, user = _api(ctx)
    api.delete(name, actor=user)
    console.print(f"Deleted trigger {name!r}.")


@app.command("fire")
def fire(
    ctx: typer.Context,
    name: Name,
    param: Pairs = None,
    key: Annotated[
        str | None, typer.Option(help="An idempotency key: firing again with it starts nothing.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Start the trigger's pipeline now (parameters override the trigger's)."""
    api, user = _api(ctx)
    firing = api.fire(name, parse_pairs(param, "param"), key=key, actor=user)
    if json:
        emit_json(views.firing_dict(firing))
        return
    if firing.run_id:
        console.print(f"Started run {firing.run_id} ({firing.status.value}).")
    else:
        console.print(
            f"Firing recorded ({firing.status.value}){': ' + firing.error if firing.error else ''}."
        )


def backfill(
    ctx: typer.Context,
    pipeline: Annotated[str, typer.Argument(help="The pipeline whose schedule to backfill.")],
    start: Annotated[str, typer.Option(help="First slot at or after this time (ISO 8601 with offset).")],
    end: Annotated[str, typer.Option(help="Slots before this time.")],
    trigger: Annotated[
        str | None, typer.Option(help="The schedule trigger (when the pipeline has several).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Run one run per slot of the pipeline's schedule in [start, end); slots that ran are skipped."""
    api, user = _api(ctx)
    with console.status("Backfilling…"):
        firings = api.backfill(
            pipeline, parse_time(start, "start"), parse_time(end, "end"), trigger=trigger, actor=user
        )
    if json:
        emit_json([views.firing_dict(f) for f in firings])
        return
    views.firings_table(firings, f"Backfill of {pipeline}")
    console.print(f"{len(firings)} slot(s).")


def register(pipelines: typer.Typer) -> None:
    """Add ``triggers`` and ``backfill`` to the ``shipyard pipelines`` group."""
    pipelines.add_typer(app, name="triggers")
    pipelines.command("backfill")(backfill)
