"""``shipyard features datasets``: saved training datasets and their lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from shipyard.cli.feature_serving import store_of
from shipyard.cli.output import (
    JsonOption,
    console,
    emit_json,
    format_time,
    key_value_table,
    new_table,
    short_digest,
)
from shipyard.core.clock import to_datetime

if TYPE_CHECKING:
    from shipyard.features.model import TrainingDataset

app = typer.Typer(help="Saved training datasets.", no_args_is_help=True)


def _dataset_dict(d: TrainingDataset) -> dict[str, object]:
    return {
        "name": d.name,
        "version": d.version,
        "digest": d.digest,
        "location": d.location,
        "num_rows": d.num_rows,
        "schema": [list(c) for c in d.schema],
        "feature_versions": dict(d.feature_versions),
        "features": list(d.features),
        "feature_service": d.feature_service,
        "entity_df_digest": d.entity_df_digest,
        "source_files": [list(p) for p in d.source_files],
        "created_at": to_datetime(d.created_at),
        "created_by": d.created_by,
    }


@app.command("list")
def datasets_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="Only versions of this dataset.")] = None,
    json: JsonOption = False,
) -> None:
    """List saved training datasets."""
    found = store_of(ctx).datasets.list(name)
    if json:
        emit_json([_dataset_dict(d) for d in found])
        return
    if not found:
        console.print("No training datasets saved.")
        return
    table = new_table(
        "name", "version", "rows", "digest", "service", "views", "created", "by", title="Training datasets"
    )
    for d in found:
        table.add_row(
            escape(d.name),
            str(d.version),
            str(d.num_rows),
            short_digest(d.digest),
            escape(d.feature_service or "-"),
            escape(", ".join(f"{k}@{v}" for k, v in d.feature_versions.items())),
            format_time(to_datetime(d.created_at)),
            escape(d.created_by),
        )
    console.print(table)


@app.command("show")
def datasets_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The training dataset's name.")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", min=1, help="Default: the latest.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Show a training dataset's lineage: views and versions, source files, digests."""
    d = store_of(ctx).datasets.get(name, version)
    if json:
        emit_json(_dataset_dict(d))
        return
    facts = {
        "version": d.version,
        "rows": d.num_rows,
        "digest": d.digest,
        "location": d.location,
        "feature service": d.feature_service or "-",
        "features": ", ".join(d.features),
        "entity frame digest": d.entity_df_digest,
        "created": f"{format_time(to_datetime(d.created_at))} by {d.created_by}",
    }
    console.print(key_value_table(facts, title=f"{escape(d.name)} v{d.version}"))
    files = new_table("source file", "digest or etag", title="Source files")
    for path, digest in d.source_files:
        files.add_row(escape(path), escape(digest))
    console.print(files)
