"""``shipyard pipelines``: apply, list, show and run pipelines, and read their runs and logs.

Pipelines are Python: ``apply`` imports a module (``pkg.pipelines``) or a file (``flows.py``, whose
folder joins the import path) and applies every ``@pipeline`` in it. A run imports the applied
code by its reference, so run commands from where the module is importable (the current folder
is on the path). With ``SHIPYARD_URL`` set runs execute on the server.
"""

from __future__ import annotations

import importlib
import json as jsonlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from shipyard.cli.output import (
    JsonOption,
    console,
    emit_json,
    err_console,
    format_duration,
    format_time,
    new_table,
    plain,
)
from shipyard.cli.state import get_client
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.pipelines.definition import PipelineDefinition
    from shipyard.pipelines.model import PipelineRun, PipelineSpec, RunState

app = typer.Typer(help="Define, run and inspect pipelines.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Pipeline name.")]
RunId = Annotated[str, typer.Argument(help="A pipeline run id.")]

STATE_STYLES = {
    "QUEUED": "dim",
    "RUNNING": "cyan",
    "SUCCEEDED": "green",
    "CACHED": "blue",
    "FAILED": "red",
    "SKIPPED": "yellow",
}


def _importable_here() -> None:
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def load_module_definitions(target: str) -> list[PipelineDefinition]:
    """Every ``@pipeline`` in the module or ``.py`` file ``target``."""
    from shipyard.pipelines.definition import PipelineDefinition

    _importable_here()
    path = Path(target)
    if target.endswith(".py"):
        if not path.is_file():
            raise InvalidInput(f"no such file: {target}", field="target")
        sys.path.insert(0, str(path.resolve().parent))
        module_name = path.stem
    else:
        module_name = target
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import {target!r}: {exc}", field="target") from None
    found = [v for v in vars(module).values() if isinstance(v, PipelineDefinition)]
    found = [d for d in found if d.fn.__module__ == module.__name__]
    if not found:
        raise InvalidInput(f"{target!r} defines no @pipeline", field="target")
    return found


def parse_params(items: list[str]) -> dict[str, object]:
    params: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param takes KEY=VALUE, got {item!r}", field="param")
        try:
            params[key] = jsonlib.loads(text)
        except ValueError:
            params[key] = text
    return params


def _state(state: RunState | str) -> str:
    value = getattr(state, "value", state)
    return f"[{STATE_STYLES.get(str(value), 'white')}]{value}[/]"


def run_dict(run: PipelineRun) -> dict[str, object]:
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "version": run.version,
        "state": run.state.value,
        "params": dict(run.params),
        "started_by": run.started_by,
        "trigger_id": run.trigger_id,
        "executor": run.executor,
        "resumed_from": run.resumed_from,
        "error": run.error,
        "created_at": run.created_at.isoformat(),
        "duration_s": None if run.duration_ms is None else run.duration_ms / 1000,
        "steps": [
            {
                "node": s.node,
                "state": s.state.value,
                "run_id": s.run_id,
                "attempt": s.attempt,
                "cached_from": s.cached_from,
                "output_digest": s.output_digest,
                "output_kind": s.output_kind,
                "duration_s": None if s.duration_ms is None else s.duration_ms / 1000,
                "error": s.error,
            }
            for s in run.steps
        ],
    }


def _spec_dict(spec: PipelineSpec) -> dict[str, object]:
    return {"name": spec.name, "version": spec.version, "ref": spec.ref, **spec.to_dict()}


@app.command("apply")
def apply(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A module (pkg.flows) or a .py file defining @pipelines.")],
    json: JsonOption = False,
) -> None:
    """Apply every pipeline the module defines (a new version when its code or graph changed)."""
    client = get_client(ctx)
    specs = [client.pipelines.apply(d, actor=client.user) for d in load_module_definitions(target)]
    if json:
        emit_json([_spec_dict(s) for s in specs])
        return
    for spec in specs:
        console.print(f"Applied [bold]{escape(spec.name)}[/] {spec.version[7:19]} ({len(spec.nodes)} steps)")


@app.command("list")
def list_(ctx: typer.Context, json: JsonOption = False) -> None:
    """List applied pipelines."""
    pipelines = get_client(ctx).pipelines.list_pipelines()
    if json:
        emit_json(
            [{"name": p.name, "version": p.latest_version, "description": p.description} for p in pipelines]
        )
        return
    if not pipelines:
        console.print("No pipelines yet. Apply one with `shipyard pipelines apply MODULE`.")
        return
    table = new_table("name", "version", "updated", "description", title="Pipelines")
    for p in pipelines:
        table.add_row(plain(p.name), p.latest_version[7:19], format_time(p.updated_at), plain(p.description))
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, name: Name, json: JsonOption = False) -> None:
    """Show a pipeline's parameters and steps."""
    spec = get_client(ctx).pipelines.get_pipeline(name)
    if json:
        emit_json(_spec_dict(spec))
        return
    console.print(f"[bold]{escape(spec.name)}[/] {spec.version}  {escape(spec.ref)}")
    if spec.description:
        console.print(escape(spec.description))
    params = new_table("parameter", "type", "default", title="Parameters")
    for p in spec.params:
        params.add_row(
            plain(p.name), plain(p.type), "required" if p.required else plain(jsonlib.dumps(p.default))
        )
    console.print(params)
    steps = new_table("step", "after", "output", "cache", "retries", "timeout", title="Steps")
    for n in spec.nodes:
        o = n.options
        steps.add_row(
            plain(n.id),
            plain(", ".join(n.upstream) or "—"),
            plain(n.output_type),
            "yes" if o.cache else "no",
            str(o.retries),
            "—" if o.timeout is None else f"{o.timeout:g}s",
        )
    console.print(steps)


@app.command("run")
def run(
    ctx: typer.Context,
    name: Name,
    param: Annotated[
        list[str], typer.Option("--param", "-p", help="KEY=VALUE (JSON values are parsed).")
    ] = [],  # noqa: B006
    executor: Annotated[str | None, typer.Option("--executor", "-e", help="local, process or ray.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every step, reusing nothing.")] = False,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Resume this failed run: reuse the steps that succeeded; a search step continues its study.",
        ),
    ] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Queue the run and return its id.")] = False,
    json: JsonOption = False,
) -> None:
    """Run a pipeline and wait for it (exit status 1 if it failed)."""
    _importable_here()
    client = get_client(ctx)
    params = parse_params(param)
    pipelines = client.pipelines
    if not client.remote and not detach:
        from shipyard.pipelines.service import PipelineService

        assert isinstance(pipelines, PipelineService)
        with err_console.status(f"running {name}…") as status:

            def progress(node: str, state: RunState) -> None:
                status.update(f"running {name}: {node} {state.value.lower()}")

            result = pipelines.run(
                name,
                params,
                started_by=client.user,
                executor=executor,
                cache=not no_cache,
                resume=resume,
                on_step=progress if err_console.is_terminal else None,
            )
    else:
        run_id = pipelines.submit(
            name, params, started_by=client.user, executor=executor, cache=not no_cache, resume=resume
        )
        if detach:
            emit_json({"run_id": run_id}) if json else console.print(run_id)
            return
        with err_console.status(f"running {name} on the server…"):
            result = pipelines.get_run(run_id)
            while not result.state.done:
                time.sleep(0.5)
                result = pipelines.get_run(run_id)
    if json:
        emit_json(run_dict(result))
    else:
        _render_run(result)
    if not result.state.ok:
        raise typer.Exit(1)


def _render_run(run: PipelineRun) -> None:
    console.print(
        f"[bold]{escape(run.pipeline)}[/] run {run.id} {_state(run.state)} "
        f"in {format_duration(None if run.duration_ms is None else run.duration_ms / 1000)}"
    )
    table = new_table("step", "state", "attempt", "duration", "output", "run")
    for s in run.steps:
        table.add_row(
            plain(s.node),
            _state(s.state) + (f" from {s.cached_from[-8:]}" if s.cached_from else ""),
            str(s.attempt),
            format_duration(None if s.duration_ms is None else s.duration_ms / 1000),
            plain(s.output_kind or "—"),
            plain(s.run_id or "—"),
        )
    console.print(table)
    if run.error:
        failed = next((s for s in run.steps if s.error), None)
        last = (failed.error or "").strip().splitlines()[-1:] if failed else []
        console.print(f"[red]{escape(run.error)}[/]" + (f": {escape(last[0])}" if last else ""))


@app.command("runs")
def runs(
    ctx: typer.Context,
    name: Name,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500, help="At most this many runs.")] = 20,
    json: JsonOption = False,
) -> None:
    """List a pipeline's runs, newest first."""
    found = get_client(ctx).pipelines.list_runs(name, limit=limit)
    if json:
        emit_json([run_dict(r) for r in found])
        return
    table = new_table("run", "state", "started", "duration", "started by", "trigger", title=f"Runs of {name}")
    for r in found:
        table.add_row(
            r.id,
            _state(r.state),
            format_time(r.started_at or r.created_at),
            format_duration(None if r.duration_ms is None else r.duration_ms / 1000),
            plain(r.started_by),
            plain(r.trigger_id or "—"),
        )
    console.print(table)


@app.command("logs")
def logs(
    ctx: typer.Context,
    run_id: RunId,
    step: Annotated[list[str], typer.Option("--step", "-s", help="Only these steps.")] = [],  # noqa: B006
    json: JsonOption = False,
) -> None:
    """Print the captured stdout and stderr of a run's steps."""
    found = get_client(ctx).pipelines.logs(run_id, step)
    if json:
        emit_json({k: {"stdout": v[0], "stderr": v[1]} for k, v in found.items()})
        return
    for node, (out, err) in found.items():
        console.print(f"[bold]── {escape(node)}[/]")
        if out:
            console.print(escape(out.rstrip()))
        if err:
            console.print(f"[red]{escape(err.rstrip())}[/]")
