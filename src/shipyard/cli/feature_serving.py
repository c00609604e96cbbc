"""``shipyard features`` commands that read and move feature values: statistics, samples,
materialization with a progress bar, online reads. Registered on the ``features`` group by
:mod:`shipyard.cli.features`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipyard.cli.output import JsonOption, console, emit_json, err_console, format_time, new_table
from shipyard.cli.state import get_client
from shipyard.core.clock import to_datetime
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

    from shipyard.features.materialize import MaterializationResult
    from shipyard.features.service import FeatureStore

ViewArgument = Annotated[str, typer.Argument(help="A feature view's name.")]
ViewsOption = Annotated[
    list[str] | None, typer.Option("--view", "--views", help="Only this feature view; repeat for several.")
]


def store_of(ctx: typer.Context) -> FeatureStore:
    return get_client(ctx).features


def parse_time(value: str | None, option: str) -> datetime | None:
    """ISO-8601 date or date-time; a naive one is UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} must be an ISO-8601 date or date-time (2026-01-31 or 2026-01-31T12:00:00Z), got {value!r}",
            field=option.lstrip("-"),
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _required_time(value: str, option: str) -> datetime:
    parsed = parse_time(value, option)
    assert parsed is not None
    return parsed


def _scalar(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_pairs(values: Sequence[str], option: str) -> list[dict[str, object]]:
    """``["a=1,b=x", ...]`` -> ``[{"a": 1, "b": "x"}, ...]`` (numbers parsed)."""
    rows: list[dict[str, object]] = []
    for value in values:
        row: dict[str, object] = {}
        for part in value.split(","):
            key, sep, item = part.partition("=")
            if not sep or not key.strip():
                raise InvalidInput(
                    f"{option} takes key=value[,key=value...], got {value!r}", field=option.lstrip("-")
                )
            row[key.strip()] = _scalar(item.strip())
        rows.append(row)
    return rows


# -- statistics and samples ------------------------------------------------------------------------


def _number(value: object) -> str:
    return "-" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))


def render_stats(stats: Sequence[Mapping[str, Any]], title: str) -> None:
    table = new_table(
        "feature", "type", "count", "nulls", "min", "mean", "max", "p50", "top values", title=title
    )
    for s in stats:
        quantiles = s.get("quantiles") or {}
        top = s.get("top_values") or []
        table.add_row(
            escape(str(s["feature"])),
            str(s.get("dtype", "")),
            _number(s.get("count")),
            _number(s.get("nulls")),
            _number(s.get("min")),
            _number(s.get("mean")),
            _number(s.get("max")),
            _number(quantiles.get("p50")) if isinstance(quantiles, dict) else "-",
            escape(", ".join(f"{v} ({n})" for v, n in list(top)[:3])),
        )
    console.print(table)


def stats(
    ctx: typer.Context,
    view: ViewArgument,
    compute: Annotated[
        bool, typer.Option("--compute", help="Compute now from the source and store them.")
    ] = False,
    start: Annotated[str | None, typer.Option(help="With --compute: rows from this time.")] = None,
    end: Annotated[str | None, typer.Option(help="With --compute: rows before this time.")] = None,
    json: JsonOption = False,
) -> None:
    """Show a view's latest stored statistics, or compute them with --compute."""
    store = store_of(ctx)
    if compute:
        computed = store.compute_statistics(view, parse_time(start, "--start"), parse_time(end, "--end"))
        rows = [s.to_dict() for s in computed]
        title = f"Statistics of {view} (just computed)"
    else:
        latest = store.latest_statistics(view)
        if latest is None:
            if json:
                emit_json(None)
                return
            console.print(f"No statistics stored for {view}: run with --compute, or materialize it.")
            return
        rows = [dict(s) for s in latest.stats]
        title = f"Statistics of {view} (computed {format_time(to_datetime(latest.computed_at))})"
    if json:
        emit_json(rows)
        return
    render_stats(rows, title)


def _render_table(data: pa.Table, json: bool, title: str) -> None:
    records = data.to_pylist()
    if json:
        emit_json(records)
        return
    table = new_table(*data.column_names, title=title)
    for record in records:
        table.add_row(*(escape("" if v is None else str(v)) for v in record.values()))
    console.print(table)


def sample(
    ctx: typer.Context,
    view: ViewArgument,
    n: Annotated[int, typer.Option("-n", "--rows", min=1, help="How many rows.")] = 10,
    start: Annotated[str | None, typer.Option(help="Rows at or after this time.")] = None,
    end: Annotated[str | None, typer.Option(help="Rows before this time.")] = None,
    json: JsonOption = False,
) -> None:
    """Show up to N rows of a view, read from its source (not the online store)."""
    data = store_of(ctx).sample(view, n, parse_time(start, "--start"), parse_time(end, "--end"))
    _render_table(data, json, f"Sample of {view}")


# -- materialization and online reads ------------------------------------------------------------


@contextmanager
def _progress_bar() -> Iterator[Progress]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        yield bar


ProgressCallback = Callable[[str, int, int | None], None]


def _materialize_with_progress(
    run: Callable[[ProgressCallback], list[MaterializationResult]],
) -> list[MaterializationResult]:
    tasks: dict[str, TaskID] = {}
    with _progress_bar() as bar:

        def progress(view: str, done: int, total: int | None) -> None:
            if view not in tasks:
                tasks[view] = bar.add_task(view, total=None)
            bar.update(tasks[view], completed=done, total=total)

        return run(progress)


def _render_results(results: list[MaterializationResult], json: bool) -> None:
    if json:
        emit_json(
            [
                {
                    "id": r.id,
                    "view": r.view_name,
                    "version": r.view_version,
                    "start": r.start,
                    "end": r.end,
                    "rows_read": r.rows_read,
                    "keys_written": r.keys_written,
                    "status": r.status,
                    "seconds": r.seconds,
                }
                for r in results
            ]
        )
        return
    table = new_table(
        "view", "version", "window", "rows read", "keys written", "status", "seconds", title="Materialized"
    )
    for r in results:
        table.add_row(
            escape(r.view_name),
            str(r.view_version),
            f"{format_time(r.start)} -> {format_time(r.end)}",
            str(r.rows_read),
            str(r.keys_written),
            r.status,
            f"{r.seconds:.2f}",
        )
    console.print(table)


def materialize(
    ctx: typer.Context,
    start: Annotated[str, typer.Option(help="Window start (inclusive), ISO-8601.")],
    end: Annotated[str, typer.Option(help="Window end (exclusive), ISO-8601.")],
    view: ViewsOption = None,
    json: JsonOption = False,
) -> None:
    """Write the newest row per entity key in [start, end) of each view to the online store."""
    store = store_of(ctx)
    begin, finish = _required_time(start, "--start"), _required_time(end, "--end")
    results = _materialize_with_progress(
        lambda progress: store.materialize(begin, finish, view, progress=progress)
    )
    _render_results(results, json)


def materialize_incremental(
    ctx: typer.Context,
    end: Annotated[str | None, typer.Option(help="Up to this time (default: now), ISO-8601.")] = None,
    view: ViewsOption = None,
    json: JsonOption = False,
) -> None:
    """Materialize each view from where the last run stopped up to END."""
    store = store_of(ctx)
    finish = parse_time(end, "--end")
    results = _materialize_with_progress(
        lambda progress: store.materialize_incremental(finish, view, progress=progress)
    )
    _render_results(results, json)


def online(
    ctx: typer.Context,
    entity: Annotated[
        list[str], typer.Option("--entity", help="One entity row: key=value[,key=value]; repeat.")
    ],
    feature: Annotated[
        list[str] | None, typer.Option("--features", "--feature", "-f", help="view:feature or view; repeat.")
    ] = None,
    service: Annotated[str | None, typer.Option("--service", help="A feature service.")] = None,
    request: Annotated[
        list[str] | None, typer.Option("--request", help="Request data for one row: key=value[,...]; repeat.")
    ] = None,
    full_feature_names: Annotated[
        bool, typer.Option("--full-names", help="Name columns view__feature.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Read the served values of features for some entities from the online store."""
    rows = parse_pairs(entity, "--entity")
    request_rows = parse_pairs(request or [], "--request")
    request_data: dict[str, list[object]] | None = None
    if request_rows:
        if len(request_rows) != len(rows):
            raise InvalidInput(
                f"give one --request per --entity ({len(rows)}), got {len(request_rows)}", field="request"
            )
        request_data = {k: [r.get(k) for r in request_rows] for k in request_rows[0]}
    response = get_client(ctx).feature_serving.get_online_features(
        feature or None,
        service,
        entity_rows=rows,
        request_data=request_data,
        full_feature_names=full_feature_names,
    )
    records = response.to_dicts()
    if json:
        emit_json([{"values": r, "statuses": s} for r, s in zip(records, response.statuses, strict=True)])
        return
    shown = [
        {column: _shown(value, status.get(column)) for column, value in record.items()}
        for record, status in zip(records, response.statuses, strict=True)
    ]
    console.print(online_table(list(response.columns), shown, rows, console.width))


def _shown(value: object, state: str | None) -> tuple[str, bool]:
    """A served value as text, or its status (``not_found``, ``outside_ttl`` …) when it has none."""
    if state in (None, "present"):
        return ("" if value is None else str(value)), True
    return str(state), False


def online_table(
    columns: list[str],
    shown: list[dict[str, tuple[str, bool]]],
    entities: list[dict[str, object]],
    width: int,
) -> Table:
    """Feature names are never cut mid-word: one column per feature when they fit the terminal,
    else transposed (a row per feature, a column per entity row), as ``kubectl describe`` does."""
    need = sum(max([len(c), *(len(r[c][0]) for r in shown)]) + 3 for c in columns)

    def cell(text: str, present: bool) -> str:
        return escape(text) if present else f"[dim]{escape(text)}[/]"

    if need <= width:
        table = new_table(*columns, title="Online features")
        for column in table.columns:
            column.no_wrap = True
        for record in shown:
            table.add_row(*(cell(*record[c]) for c in columns))
        return table
    heads = [", ".join(f"{k}={v}" for k, v in e.items()) or f"row {i + 1}" for i, e in enumerate(entities)]
    table = new_table("feature", *heads, title="Online features (a column per entity)")
    for entity_column in table.columns[1:]:
        entity_column.overflow = "fold"  # long values may fold; feature names stay whole, first
    for name in columns:
        table.add_row(escape(name), *(cell(*record[name]) for record in shown))
    return table
