"""``shipyard artifacts``: list a run's artifacts and download one, verified against its digest."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Annotated

import typer
from rich.markup import escape

from shipyard.cli.output import (
    JsonOption,
    console,
    emit_json,
    err_console,
    format_size,
    format_time,
    new_table,
    plain,
)
from shipyard.cli.state import get_client
from shipyard.errors import InvalidInput
from shipyard.tracking.model import Artifact

app = typer.Typer(help="List and download run artifacts.", no_args_is_help=True)


def artifact_dict(artifact: Artifact) -> dict[str, object]:
    return {
        "run_id": artifact.run_id,
        "path": artifact.path,
        "digest": artifact.digest,
        "size": artifact.size,
        "created_at": artifact.created_at,
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id.", show_default=False)],
    json: JsonOption = False,
) -> None:
    """List the files a run stored, with size and content digest."""
    artifacts = get_client(ctx).tracking.list_artifacts(run_id)
    if json:
        emit_json([artifact_dict(a) for a in artifacts])
        return
    if not artifacts:
        console.print(f"Run {escape(run_id)} has no artifacts.")
        return
    table = new_table("path", "size", "digest", "stored", title=f"Artifacts of run {run_id}")
    table.columns[1].justify = "right"
    for a in artifacts:
        table.add_row(plain(a.path), format_size(a.size), plain(a.digest), format_time(a.created_at))
    console.print(table)


def _is_digest(ref: str) -> bool:
    return ref.startswith("sha256:") or (len(ref) == 64 and all(c in "0123456789abcdef" for c in ref))


def _destination(output: Path | None, name: str, force: bool) -> Path:
    dest = Path.cwd() / name if output is None else output
    if dest.is_dir():
        dest = dest / name
    if dest.exists() and not force:
        raise InvalidInput(f"{dest} exists already; pass --force to overwrite it", field="output")
    return dest


@app.command("get")
def get(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            help="A run id, or a content digest 'sha256:<hex>' (then -o is needed).", show_default=False
        ),
    ],
    path: Annotated[
        str | None,
        typer.Argument(help="The artifact's path within the run, e.g. model.joblib.", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write, or an existing folder to write into (default: the artifact's file name here).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Overwrite the destination if it exists.")
    ] = False,
) -> None:
    """Download an artifact of a run, or any stored content by digest.

    The bytes are checked against their recorded SHA-256 digest while they are written; the
    destination only appears once the whole file has arrived and matched.
    """
    tracking = get_client(ctx).tracking
    if _is_digest(ref):
        if path is not None:
            raise InvalidInput("give either RUN_ID PATH or a digest, not a digest and a path", field="path")
        if output is None:
            raise InvalidInput("downloading by digest needs a destination: -o/--output FILE", field="output")
        dest = _destination(output, ref.removeprefix("sha256:"), force)
        with err_console.status(f"Downloading {escape(ref)}…"):
            written = tracking.download_blob(ref, dest)
        digest = ref if ref.startswith("sha256:") else f"sha256:{ref}"
    else:
        if path is None:
            raise InvalidInput(
                "give the artifact's PATH after the run id (see `shipyard artifacts list`)", field="path"
            )
        dest = _destination(output, PurePosixPath(path).name or "artifact", force)
        with err_console.status(f"Downloading {escape(path)} of run {escape(ref)}…"):
            written = tracking.download_artifact(ref, path, dest)
        digest = next((a.digest for a in tracking.list_artifacts(ref) if a.path == path), "its digest")
    size = format_size(written.stat().st_size)
    console.print(f"Wrote {escape(str(written))} ({size}), verified against {escape(digest)}.")
