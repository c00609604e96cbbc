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


#: Longest change summary on a record's line; ``--json`` has the whole record.
SUMMARY_CHARS = 80


def _short(value: object) -> str:
    text = value if isinstance(value, str) else jsonlib.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 30 else text[:29] + "…"


def summary(record: AuditRecord) -> str:
    """What changed, on one line, most telling first: ``stage: staging→production`` for the keys
    whose value changed, then ``+key=value`` for what appeared (``key=value`` when the object is
    new; empty values left out), then ``-key`` for what went away."""
    old, new = record.before or {}, record.after or {}
    changed = [
        f"{k}: {_short(old[k])}→{_short(new[k])}" for k in sorted(old) if k in new and old[k] != new[k]
    ]
    mark = "+" if record.before is not None else ""
    added = [f"{mark}{k}={_short(new[k])}" for k in sorted(new) if k not in old and new[k] not in ("", None)]
    removed = [f"-{k}" for k in sorted(old) if k not in new]
    text = ", ".join(changed + added + removed)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


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
    """List audit records, oldest first: one line each with a summary of the change (--json for the
    raw records)."""
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
    table = new_table(
        "seq", "at", "actor", "action", "object", "change", title="Audit trail (--json for whole records)"
    )
    rows = [
        [str(r.seq), format_time(r.at), r.actor, r.action, f"{r.object_type} {r.object_id}", summary(r)]
        for r in records
    ]
    # One line per record: the other columns stay whole and the change gets the rest of the line.
    widths = [max([len(str(c.header)), *(len(row[i]) for row in rows)]) for i, c in enumerate(table.columns)]
    room = max(20, console.width - sum(widths[:5]) - 3 * len(widths) - 2)
    for column in table.columns:
        column.no_wrap = True
    for row in rows:
        change = row[5] if len(row[5]) <= room else row[5][: room - 1] + "…"
        table.add_row(*row[:2], *(plain(cell) for cell in [*row[2:5], change]))
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
