"""What each page shows, assembled from tracking use cases (no SQL, no HTML here)."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlencode

from shipyard.errors import InvalidInput
from shipyard.server.ui import downsample
from shipyard.server.ui.sparkline import Sparkline, sparkline
from shipyard.tracking.api import TrackingAPI
from shipyard.tracking.model import (
    Artifact,
    Experiment,
    LineageGraph,
    LineageNode,
    Metric,
    NodeKind,
    Run,
    RunComparison,
    RunDataset,
)

PER_PAGE = 100
MAX_COMPARED_CURVES = 20
MAX_IMPORTANCES = 30
MAX_SWEEP_AXES = 12
MAX_IMPORTANCE_BYTES = 1_000_000
LINEAGE_DEPTH = 2  # the run's inputs and outputs, who produced the inputs, who used the outputs
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-/.]+")


def identifier(prefix: str, key: str) -> str:
    """``params.lr``, or ``params.`odd key``` when the key needs quoting in the search language."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{prefix}.{key}"
    quote = '"' if "`" in key else "`"
    return f"{prefix}.{quote}{key}{quote}"


def split_order_by(text: str) -> list[str]:
    """``"metrics.auc desc, params.`a,b`"`` -> ``["metrics.auc desc", "params.`a,b`"]``: commas
    inside quotes or backticks do not split."""
    items, current, quote = [], "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "`'\"":
            quote = char
        elif char == ",":
            items.append(current)
            current = ""
            continue
        current += char
    items.append(current)
    return [item.strip() for item in items if item.strip()]


# -- experiments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentRow:
    experiment: Experiment
    runs: int


def experiment_rows(tracking: TrackingAPI) -> list[ExperimentRow]:
    return [ExperimentRow(exp, tracking.count_runs([exp.id])) for exp in tracking.list_experiments()]


# -- runs table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunsQuery:
    """The runs table's form: a filter, an ordering and a page."""

    filter: str = ""
    order_by: str = ""
    page: int = 1
    per_page: int = PER_PAGE

    def url(self, base: str, **changes: object) -> str:
        query = replace(self, **changes)  # type: ignore[arg-type]
        params = {"filter": query.filter, "order_by": query.order_by}
        pairs = {k: v for k, v in params.items() if v}
        if query.page != 1:
            pairs["page"] = str(query.page)
        if query.per_page != PER_PAGE:
            pairs["per_page"] = str(query.per_page)
        return f"{base}?{urlencode(pairs)}" if pairs else base

    def sort_url(self, base: str, field: str) -> str:
        """Order by ``field`` descending, or ascending when it is already descending."""
        current = self.order_by.strip().lower()
        direction = "ASC" if current == f"{field} desc".lower() else "DESC"
        return self.url(base, order_by=f"{field} {direction}", page=1)

    def sorted_by(self, field: str) -> str:
        """ "desc"/"asc" when the table is ordered by ``field`` first, else ""."""
        items = split_order_by(self.order_by)
        if not items:
            return ""
        parts = items[0].rsplit(None, 1)
        if len(parts) == 2 and parts[1].lower() in ("asc", "desc"):
            return parts[1].lower() if parts[0] == field else ""
        return "asc" if items[0] == field else ""


@dataclass(frozen=True)
class TableRow:
    """A run as a row of the runs table: a parent with ``children`` rows right after it, or a child
    nested under ``parent`` (a run on the same page)."""

    run: Run
    children: int = 0
    parent: str | None = None


@dataclass(frozen=True)
class RunsPage:
    rows: Sequence[TableRow] = ()
    param_keys: Sequence[str] = ()
    metric_keys: Sequence[str] = ()
    has_next: bool = False
    error: str | None = None  # a malformed filter or ordering, shown above the table
    #: True when the page's parents had more children than :data:`MAX_NESTED` (some not shown).
    children_cut: bool = False

    @property
    def runs(self) -> list[Run]:
        return [row.run for row in self.rows]

    @property
    def top_level(self) -> int:
        return sum(1 for row in self.rows if row.parent is None)


#: Child runs loaded under one page of parents (one query for the whole page).
MAX_NESTED = 1000


def runs_page(tracking: TrackingAPI, experiment: Experiment, query: RunsQuery) -> RunsPage:
    """One page of the experiment's runs (one run more is asked for, to know whether a next page
    exists); a bad filter or ordering becomes ``error``, not a failure.

    Without a filter the page holds top-level runs, and their children come from one more query
    per 50 of the page's parents (so 100,000 runs cost three bounded queries). With a filter every
    matching run is listed, and a match whose parent matched on the same page nests under it."""
    order = split_order_by(query.order_by)
    nested = not query.filter
    try:
        found = tracking.search_runs(
            [experiment.id],
            "parent_id IS NULL" if nested else query.filter,
            order,
            max_results=query.per_page + 1,
            offset=(query.page - 1) * query.per_page,
        )
        runs = found[: query.per_page]
        children = _children(tracking, experiment, runs, order) if nested else []
    except InvalidInput as exc:
        return RunsPage(error=exc.message)
    everything = runs + children[:MAX_NESTED]
    return RunsPage(
        rows=nest(everything),
        param_keys=sorted({k for r in everything for k in r.params}),
        metric_keys=sorted({k for r in everything for k in r.metrics}),
        has_next=len(found) > query.per_page,
        children_cut=len(children) > MAX_NESTED,
    )


#: Parents per children query: the IN list stays under the search language's term cap (64 by
#: default, ``max_filter_terms``).
PARENTS_PER_QUERY = 50


def _children(
    tracking: TrackingAPI, experiment: Experiment, parents: Sequence[Run], order: list[str]
) -> list[Run]:
    """The children of the page's runs, in the table's order within each parent, at most
    ``MAX_NESTED + 1`` (one more tells the page some were left out): one query per 50 parents."""
    found: list[Run] = []
    for start in range(0, len(parents), PARENTS_PER_QUERY):
        ids = ", ".join(f"'{run.id}'" for run in parents[start : start + PARENTS_PER_QUERY])  # hex ids
        found += tracking.search_runs(
            [experiment.id], f"parent_id IN ({ids})", order or ["start_time ASC"], MAX_NESTED + 1 - len(found)
        )
        if len(found) > MAX_NESTED:
            break
    return found


def nest(runs: Sequence[Run]) -> list[TableRow]:
    """Runs in their order, each run whose parent is among them moved right under that parent
    (one level: a grandchild nests under its own parent's row, which is itself nested)."""
    on_page = {run.id for run in runs}
    under: dict[str, list[Run]] = {}
    for run in runs:
        if run.parent_id in on_page and run.parent_id != run.id:
            under.setdefault(run.parent_id, []).append(run)
    rows: list[TableRow] = []

    def place(run: Run, parent: str | None) -> None:
        kids = under.get(run.id, [])
        rows.append(TableRow(run, len(kids), parent))
        for kid in kids:
            place(kid, run.id)

    for run in runs:
        if run.parent_id not in on_page:
            place(run, None)
    return rows


# -- one run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRow:
    latest: Metric
    line: Sparkline | None


@dataclass(frozen=True)
class DataNode:
    """A piece of data next to the run, with the other runs on its far side (who produced an input,
    who used an output)."""

    node: LineageNode
    relation: str
    runs: Sequence[LineageNode] = ()
    #: Feature views (with versions) an input training set was built from, each with its sources.
    views: Sequence[tuple[LineageNode, Sequence[LineageNode]]] = ()


T = TypeVar("T")

#: Rows of each list on a run's page (params, tags, metrics, artifacts, children); ``?page=`` pages.
SECTION_ROWS = 100


@dataclass(frozen=True)
class Section(Generic[T]):
    """One page of a list on a run's page: ``rows`` of ``total``."""

    rows: Sequence[T]
    total: int

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[T]:
        return iter(self.rows)

    def __bool__(self) -> bool:
        return self.total > 0


def _section(items: Sequence[T], page: int) -> Section[T]:
    start = (page - 1) * SECTION_ROWS
    return Section(items[start : start + SECTION_ROWS], len(items))


@dataclass(frozen=True)
class RunDetail:
    run: Run
    experiment: Experiment
    parent: Run | None
    children: Section[Run]
    metrics: Section[MetricRow]
    datasets: Sequence[RunDataset]
    artifacts: Section[Artifact]
    params: Section[tuple[str, str]]
    tags: Section[tuple[str, str]]
    page: int = 1
    inputs: Sequence[DataNode] = field(default_factory=list)
    outputs: Sequence[DataNode] = field(default_factory=list)
    registered: Sequence[LineageNode] = field(default_factory=list)  # model versions from this run
    #: Metrics with more than one point, as chart columns downsampled to ~1,000 points each.
    charts: Sequence[Mapping[str, object]] = field(default_factory=list)
    #: The child runs' params and latest metrics as parallel-coordinates dimensions, or None.
    sweep: Mapping[str, object] | None = None
    #: A logged ``*importance*.csv`` as bar-chart data (names, values), or None.
    importance: Mapping[str, object] | None = None

    @property
    def pages(self) -> int:
        longest = max(
            len(self.params), len(self.tags), len(self.metrics), len(self.artifacts), len(self.children)
        )
        return max(1, -(-longest // SECTION_ROWS))


def run_detail(tracking: TrackingAPI, run_id: str, page: int = 1) -> RunDetail:
    run = tracking.get_run(run_id)
    graph = tracking.lineage(run.id, LINEAGE_DEPTH)
    latest = _section(sorted(run.metrics.items()), page)
    # Histories of the metrics on this page only: a run's metric count is bounded, a page more so.
    histories = {key: tracking.metric_history(run.id, key) for key, _ in latest.rows}
    artifacts = tracking.list_artifacts(run.id)
    children = tracking.search_runs(None, f"parent_id = '{run.id}'", ["start_time ASC"])
    inputs, outputs = lineage_sides(graph, run.id)
    return RunDetail(
        run=run,
        experiment=tracking.get_experiment(run.experiment_id),
        parent=tracking.get_run(run.parent_id) if run.parent_id else None,
        children=_section(children, page),
        sweep=sweep_chart(children),
        metrics=Section([MetricRow(m, sparkline(histories[key])) for key, m in latest.rows], latest.total),
        charts=[{"key": key, **downsample.series(h)} for key, h in sorted(histories.items()) if len(h) > 1],
        datasets=tracking.run_datasets(run.id),
        artifacts=_section(artifacts, page),
        params=_section(sorted(run.params.items()), page),
        tags=_section(sorted(run.tags.items()), page),
        page=page,
        inputs=inputs,
        outputs=outputs,
        importance=importance_chart(tracking, run.id, artifacts),
        registered=[
            n for n in graph.nodes if n.kind is NodeKind.MODEL_VERSION and (run.id, n.id) in _pairs(graph)
        ],
    )


def sweep_chart(runs: Sequence[Run]) -> Mapping[str, object] | None:
    """Params (numbers as numbers, other values as categories) and latest metrics of a sweep's
    trials, as parallel-coordinates dimensions; None for fewer than two trials."""
    if len(runs) < 2:
        return None
    dimensions: list[dict[str, object]] = []
    for key in sorted({k for r in runs for k in r.params})[:MAX_SWEEP_AXES]:
        raw = [r.params.get(key) for r in runs]
        if len(set(raw)) < 2:
            continue  # a param every trial shares says nothing
        numbers = [_float(v) for v in raw]
        if all(n is not None for n in numbers):
            dimensions.append({"label": key, "values": numbers})
        else:
            labels = sorted({str(v) for v in raw})
            dimensions.append(
                {
                    "label": key,
                    "values": [labels.index(str(v)) for v in raw],
                    "ticktext": labels,
                    "tickvals": list(range(len(labels))),
                }
            )
    for key in sorted({k for r in runs for k in r.metrics})[:MAX_SWEEP_AXES]:
        values = [m.value if (m := r.metrics.get(key)) else None for r in runs]
        if any(v is not None for v in values):
            dimensions.append({"label": key, "values": values})
    return {"dimensions": dimensions, "names": [r.name for r in runs]} if dimensions else None


def _float(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def importance_chart(
    tracking: TrackingAPI, run_id: str, artifacts: Sequence[Artifact]
) -> Mapping[str, object] | None:
    """The first logged ``*importance*.csv`` (a name column and a numeric column), largest
    ``MAX_IMPORTANCES`` values, for a bar chart."""
    found = next(
        (
            a
            for a in artifacts
            if a.path.lower().endswith("importance.csv") and a.size <= MAX_IMPORTANCE_BYTES
        ),
        None,
    )
    if found is None:
        return None
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="shipyard-ui-") as folder:
        path = tracking.download_artifact(run_id, found.path, Path(folder) / "importance.csv")
        try:
            frame = pd.read_csv(path)
        except (ValueError, UnicodeDecodeError):
            return None
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    labels = [c for c in frame.columns if c not in numeric]
    if not numeric or not labels:
        return None
    top = frame.nlargest(MAX_IMPORTANCES, numeric[0])
    return {
        "title": f"{found.path}: {numeric[0]}",
        "names": [str(v) for v in top[labels[0]]],
        "values": [float(v) for v in top[numeric[0]]],
    }


def _pairs(graph: LineageGraph) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in graph.edges}


def _views_of(graph: LineageGraph, digest: str) -> list[tuple[LineageNode, list[LineageNode]]]:
    """The feature views an input was built from, each with the source files it read."""
    by_id = {n.id: n for n in graph.nodes}
    views = [by_id[e.source] for e in graph.edges if e.target == digest and e.source in by_id]
    return [
        (view, [by_id[e.source] for e in graph.edges if e.target == view.id and e.source in by_id])
        for view in views
        if view.kind is NodeKind.FEATURE_VIEW
    ]


def lineage_sides(graph: LineageGraph, run_id: str) -> tuple[list[DataNode], list[DataNode]]:
    by_id = {n.id: n for n in graph.nodes}
    inputs = [
        DataNode(
            by_id[e.source],
            e.relation.removeprefix("input:"),
            graph.producers(e.source),
            _views_of(graph, e.source),
        )
        for e in graph.edges
        if e.target == run_id and e.relation != "output"
    ]
    outputs = [
        DataNode(by_id[e.target], e.relation, graph.consumers(e.target))
        for e in graph.edges
        if e.source == run_id and e.relation == "output"
    ]
    return inputs, outputs


# -- compare ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    compared: RunComparison
    differing_params: frozenset[str]
    differing_metrics: frozenset[str]
    #: Metrics with a history, one curve per run (downsampled), for overlaid charts.
    curves: Sequence[Mapping[str, object]] = ()

    def param_cells(self, key: str) -> list[tuple[str, bool]]:
        """The param in each run, as shown, and whether it is an odd one out (see :func:`_cells`)."""
        return _cells(["—" if v is None else v for v in self.compared.param(key)])

    def metric_cells(self, key: str) -> list[tuple[str, bool]]:
        """The latest metric in each run (five significant digits), and whether it is an odd one
        out as shown."""
        return _cells(
            ["NaN" if v is not None and v != v else _shown(v) or "—" for v in self.compared.metric(key)]
        )


def _cells(shown: Sequence[str]) -> list[tuple[str, bool]]:
    """Each value with whether it differs from the one most runs share (the first run's on a
    tie), so only the odd values are highlighted, not whole rows."""
    common = Counter(shown).most_common(1)[0][0] if shown else ""  # ties: the first seen wins
    return [(value, value != common) for value in shown]


def _shown(value: float | None) -> str:
    """A metric as the page shows it (five significant digits)."""
    return "" if value is None else f"{value:.5g}"


class CurveSource(TrackingAPI, Protocol):
    """The tracking service, which can also cut a history down in the database."""

    def metric_curve(self, run_id: str, key: str, points: int) -> list[Metric]: ...


def comparison(tracking: CurveSource, run_ids: Sequence[str]) -> Comparison:
    """The runs side by side, with each metric's curves downsampled in the database (a compare of
    10 runs of 100,000 points each reads about 1,000 points per run)."""
    if not run_ids:
        raise InvalidInput("select at least one run to compare", field="run")
    compared = tracking.compare_runs(run_ids)
    curves = []
    for key in compared.metric_keys[:MAX_COMPARED_CURVES]:
        histories = [(run, tracking.metric_curve(run.id, key, downsample.POINTS)) for run in compared.runs]
        if any(len(h) > 1 for _, h in histories):
            runs = [{"name": run.name, **downsample.series(h)} for run, h in histories if h]
            curves.append({"key": key, "runs": runs})
    return Comparison(
        compared,
        frozenset(compared.differing_params()),
        # as shown: values that only differ past the fifth significant digit are not highlighted
        frozenset(k for k in compared.metric_keys if len({_shown(v) for v in compared.metric(k)}) > 1),
        curves,
    )
