"""``shipyard audit``: list, verify and export the audit trail (run where the server's database is)."""

from __future__ import annotations

import csv
import io
import json as jsonlib
from pathlib import Path
from typing import Annotated

import typer

from shipyard.audit.export import as_dict
from shipyard.audit.model import AuditRecord
from shipyard.cli.output import JsonOption, console, emit_json, err_console, format_time, new_table, plain
from shipyard.cli.state import get_client

app = typer.Typer(
    help="Read, verify and export the audit trail (run where the server's database is).",
    no_args_is_help=True,
)


def _change(record: AuditRecord) -> str:
    parts = []
    if record.before is not None:
        parts.append("before " + jsonlib.dumps(record.before, sort_keys=True, ensure_ascii=False))
    if record.after is not None:
        parts.append("after " + jsonlib.dumps(record.after, sort_keys=True, ensure_ascii=False))
    return "; ".join(parts)


@app.command("list")
def list_records(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option("--actor", help="Only records by this user.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action; 'model.*' matches a prefix.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Only this model and its versions, aliases, approvals.")
    ] = None,
    object_type: Annotated[str | None, typer.Option("--object-type", help="Only this object type.")] = None,
    object_id: Annotated[str | None, typer.Option("--object-id", help="Only this object id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many records.")] = 100,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many matching records.")] = 0,
    json: JsonOption = False,
) -> None:
    """List audit records, oldest first."""
    records = get_client(ctx).audit.list(
        actor=actor,
        action=action,
        model=model,
        object_type=object_type,
        object_id=object_id,
        limit=limit,
        offset=offset,
    )
    if json:
        emit_json([as_dict(r) for r in records])
        return
    table = new_table("seq", "at", "actor", "action", "object", "change", title="Audit trail")
    for r in records:
        table.add_row(
            str(r.seq),
            format_time(r.at),
            plain(r.actor),
            plain(r.action),
            plain(f"{r.object_type} {r.object_id}"),
            plain(_change(r)),
        )
    console.print(table)


@app.command("verify")
def verify(ctx: typer.Context, json: JsonOption = False) -> None:
    """Check the hash chain; exit 1 naming the first edited, deleted or missing record."""
    report = get_client(ctx).audit.verify()
    if json:
        emit_json(
            {
                "valid": report.valid,
                "records": report.records,
                "head_seq": report.head_seq,
                "head_hash": report.head_hash,
                "broken_seq": report.broken_seq,
                "reason": report.reason,
            }
        )
    elif report.valid:
        console.print(f"Audit trail intact: {report.records} records, head at seq {report.head_seq}.")
    if not report.valid:
        typer.echo(f"error: audit trail broken at record {report.broken_seq}: {report.reason}", err=True)
        raise typer.Exit(1)


@app.command("export")
def export(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Only this model and its versions, aliases and approvals."),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Export audit records (all, or one model's) as CSV or JSON."""
    text = get_client(ctx).audit.export(model=model, format=format)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    count = len(jsonlib.loads(text)) if format == "json" else len(list(csv.reader(io.StringIO(text)))) - 1
    err_console.print(f"Wrote {count} records to {output}.")
