"""``shipyard runs``: list, show, search, compare runs and a metric's history.

The filter grammar of ``runs search`` is documented in :mod:`shipyard.tracking.search`.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from shipyard.cli import run_view
from shipyard.cli.output import (
    JsonOption,
    common_metric_keys,
    console,
    emit_json,
    format_duration,
    format_number,
    format_time,
    metric_dict,
    new_table,
    plain,
    run_dict,
    runs_table,
    status_text,
)
from shipyard.cli.state import get_client
from shipyard.core.clock import to_datetime
from shipyard.errors import NotFound
from shipyard.tracking.model import Metric, Run, RunComparison

app = typer.Typer(help="List, inspect, search and compare runs.", no_args_is_help=True)

ExperimentOption = Annotated[
    list[str] | None,
    typer.Option("--experiment", "-e", help="Only runs of this experiment (name or id); repeat for several."),
]
#: Metric keys a filter or ordering names; those get columns first.
METRIC_REFERENCE = re.compile(r"metrics\.([\w.\-]+)")


def _render_runs(ctx: typer.Context, runs: list[Run], json: bool, title: str, mentioned: str = "") -> None:
    names: dict[str, str] = {e.id: e.name for e in get_client(ctx).tracking.list_experiments()}
    if json:
        emit_json([run_dict(r, names) for r in runs])
        return
    if not runs:
        console.print("No runs matched.")
        return
    preferred = METRIC_REFERENCE.findall(mentioned)
    console.print(
        runs_table(
            runs, names, common_metric_keys(runs, preferred=preferred), title=title, width=console.width
        )
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    experiment: ExperimentOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many runs.")] = 50,
    json: JsonOption = False,
) -> None:
    """List the most recent runs, newest first."""
    runs = get_client(ctx).tracking.search_runs(experiment or None, "", (), limit)
    _render_runs(ctx, runs, json, f"Runs (newest first, at most {limit})")


@app.command("search")
def search(
    ctx: typer.Context,
    filter: Annotated[
        str,
        typer.Argument(
            help="Filter expression, e.g. \"metrics.roc_auc > 0.8 and params.model = 'logreg'\".",
            show_default=False,
        ),
    ],
    experiment: ExperimentOption = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by", "-o", help="Sort key such as 'metrics.roc_auc DESC'; repeat for tie-breakers."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Return at most this many runs.")] = 100,
    ids: Annotated[
        bool, typer.Option("--ids", help="Print only the run ids, one a line (for $(...) in a shell).")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Find runs by metrics, params, tags and attributes.

    Identifiers: metrics.KEY, params.KEY, tags.KEY and attributes such as status, name,
    start_time, duration (ms) and parent_id. Comparators: = != < <= > >= LIKE ILIKE IN, IS NULL;
    combine with and, or, not and parentheses.
    """
    runs = get_client(ctx).tracking.search_runs(experiment or None, filter, order_by or (), limit)
    if not runs:
        _warn_unknown_keys(ctx, experiment or None, filter)
    if ids:
        for run in runs:
            typer.echo(run.id)
        return
    _render_runs(ctx, runs, json, f"Runs matching {filter}", " ".join([filter, *(order_by or ())]))


#: ``metrics.key`` or ``params.key`` in a filter, the key plain, in backticks or in double quotes.
KEY_REFERENCE = re.compile(r"\b(metrics|params)\.(?:`([^`]+)`|\"([^\"]+)\"|([\w.\-/]+))")
#: Runs sampled (newest first) to learn which keys exist when a search finds nothing.
KEY_SAMPLE = 1000


def _warn_unknown_keys(ctx: typer.Context, experiments: list[str] | None, filter: str) -> None:
    """A search that found nothing because it names a metric or param no run has (a typo such as
    ``metrics.rocauc``) says so on stderr, with the closest keys that exist; the exit stays 0,
    since an empty result is still a correct answer."""
    named = {(m[0], m[1] or m[2] or m[3]) for m in KEY_REFERENCE.findall(filter)}
    if not named:
        return
    sample = get_client(ctx).tracking.search_runs(experiments, "", (), KEY_SAMPLE)
    known = {
        "metrics": sorted({k for r in sample for k in r.metrics}),
        "params": sorted({k for r in sample for k in r.params}),
    }
    for prefix, key in sorted(named):
        if key in known[prefix]:
            continue
        close = difflib.get_close_matches(key, known[prefix], n=3, cutoff=0.6)
        hint = (
            f"did you mean {', '.join(f'{prefix}.{k}' for k in close)}?"
            if close
            else f"known: {', '.join(known[prefix][:8]) or 'none'}"
        )
        typer.echo(f"warning: no run has {prefix}.{key}, so nothing can match it; {hint}", err=True)


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(help="The run's id, or a unique prefix of it.", show_default=False)
    ],
    json: JsonOption = False,
) -> None:
    """Show one run: params, latest metrics, tags, note, datasets, artifacts and environment."""
    detail = run_view.load(get_client(ctx), run_id)
    if json:
        emit_json(run_view.detail_dict(detail))
    else:
        run_view.render(detail)


def comparison_dict(comparison: RunComparison) -> dict[str, object]:
    return {
        "runs": [{"id": r.id, "name": r.name, "status": r.status} for r in comparison.runs],
        "params": {k: comparison.param(k) for k in comparison.param_keys},
        "metrics": {k: comparison.metric(k) for k in comparison.metric_keys},
        "differing_params": list(comparison.differing_params()),
    }


@app.command("compare")
def compare(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str], typer.Argument(help="Two or more run ids (or unique prefixes).", show_default=False)
    ],
    json: JsonOption = False,
) -> None:
    """Compare runs side by side: one column per run, params and metrics as rows.

    Params whose values differ between the runs are highlighted.
    """
    tracking = get_client(ctx).tracking
    comparison = tracking.compare_runs([run_view.resolve_run_id(tracking, r) for r in run_ids])
    if json:
        emit_json(comparison_dict(comparison))
        return
    differing = set(comparison.differing_params())
    table = new_table("", title=f"Comparing {len(comparison.runs)} runs")
    for run in comparison.runs:
        table.add_column(Text(f"{run.name}\n{run.id}"), justify="right", overflow="fold")
    table.add_row("status", *[status_text(r.status) for r in comparison.runs])
    table.add_row("duration", *[format_duration(r.duration) for r in comparison.runs], end_section=True)
    for key in comparison.param_keys:
        style = "bold yellow" if key in differing else ""
        label = Text(f"{'≠ ' if key in differing else ''}params.{key}", style=style)
        table.add_row(label, *[Text("—" if v is None else v, style=style) for v in comparison.param(key)])
    if comparison.param_keys:
        table.rows[-1].end_section = True
    for key in comparison.metric_keys:
        table.add_row(plain(f"metrics.{key}"), *[format_number(v) for v in comparison.metric(key)])
    console.print(table)
    if differing:
        console.print(
            f"[bold yellow]≠[/] {len(differing)} param(s) differ: {escape(', '.join(sorted(differing)))}"
        )


@app.command("history")
def history(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(help="The run's id, or a unique prefix of it.", show_default=False)
    ],
    key: Annotated[str, typer.Argument(help="The metric key, e.g. val_auc.", show_default=False)],
    rows: Annotated[
        int, typer.Option("--rows", "-n", min=0, help="Table rows under the chart: the last N points.")
    ] = 10,
    json: JsonOption = False,
) -> None:
    """Chart one metric of a run by step, in the terminal, with its last values in a table."""
    client = get_client(ctx)
    run_id = run_view.resolve_run_id(client.tracking, run_id)
    points = client.tracking.metric_history(run_id, key)
    if not points:
        known = ", ".join(sorted(client.tracking.get_run(run_id).metrics)) or "none"
        raise NotFound(f"run {run_id} has no metric {key!r} (its metrics: {known})", field="key")
    if json:
        emit_json([metric_dict(p) for p in points])
        return
    console.print(Text.from_ansi(terminal_chart(points, key, run_id, console.width)))
    if rows:
        shown = points[-rows:]
        title = (
            f"last {len(shown)} of {len(points)} points"
            if len(shown) < len(points)
            else f"{key} of run {run_id}"
        )
        table = new_table("step", "value", "logged at", title=title)
        for p in shown:
            table.add_row(str(p.step), format_number(p.value), format_time(to_datetime(p.timestamp)))
        console.print(table)


def terminal_chart(points: list[Metric], key: str, run_id: str, width: int) -> str:
    """A labelled line chart of the points (value by step), drawn with plotext; long series are
    downsampled to the chart's width first."""
    import plotext

    finite = [p for p in points if math.isfinite(p.value)]
    step = max(1, len(finite) // max(width * 2, 1))
    sample = finite[::step] + ([finite[-1]] if finite and (len(finite) - 1) % step else [])
    plotext.clear_figure()
    plotext.plot([p.step for p in sample], [p.value for p in sample], marker="braille")
    plotext.title(f"{key} of run {run_id} ({len(points):,} points)")
    plotext.xlabel("step")
    plotext.ylabel(key)
    plotext.plotsize(min(width, 120), 18)
    plotext.theme("clear")
    return str(plotext.build())
