"""The demo: generate churn data, sweep a few models as nested runs, compare them, point onward.

Lineage it leaves behind: ``customers.parquet`` -> run ``model-sweep`` -> ``churn_train`` /
``churn_validation`` -> one child run per model -> ``model.joblib`` and ``feature_importance.csv``.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from shipyard.demo.data import MONTHS, generate_churn_data, split_by_time
from shipyard.demo.models import (
    CANDIDATES,
    FEATURES,
    LABEL,
    THRESHOLD,
    Candidate,
    evaluate,
    feature_importance,
)
from shipyard.demo.models import staged_metrics as boosting_stages

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.client import Client
    from shipyard.tracking.model import Run

EXPERIMENT = "churn"
VALIDATION_MONTHS = 3
SHOWN_METRICS = ("roc_auc", "log_loss", "precision", "recall", "f1")


@dataclass(frozen=True)
class DemoResult:
    sweep_id: str
    run_ids: tuple[str, ...]  # child runs, best validation ROC AUC first
    data_dir: Path

    @property
    def best_run_id(self) -> str:
        return self.run_ids[0]


@dataclass(frozen=True)
class DataFiles:
    customers: Path
    train: Path
    validation: Path


def write_data(data_dir: Path, seed: int, rows: int) -> tuple[DataFiles, pd.DataFrame, pd.DataFrame]:
    data_dir.mkdir(parents=True, exist_ok=True)
    data = generate_churn_data(rows, seed)
    train, validation = split_by_time(data, VALIDATION_MONTHS)
    files = DataFiles(
        data_dir / "customers.parquet",
        data_dir / "churn_train.parquet",
        data_dir / "churn_validation.parquet",
    )
    data.to_parquet(files.customers, index=False)
    train.to_parquet(files.train, index=False)
    validation.to_parquet(files.validation, index=False)
    return files, train, validation


def train_candidate(
    client: Client,
    sweep_id: str,
    candidate: Candidate,
    files: DataFiles,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    seed: int,
) -> tuple[str, float]:
    """Fit one candidate as a child run of the sweep; returns the run id and validation ROC AUC."""
    tags = {"model_family": candidate.family, "demo": "churn"}
    with client.start_run(experiment=EXPERIMENT, name=candidate.name, parent=sweep_id, tags=tags) as run:
        run.log_params(
            {"model": candidate.family, **candidate.params, "decision_threshold": THRESHOLD, "seed": seed}
        )
        run.log_dataset(files.train, name="churn_train", context="training")
        run.log_dataset(files.validation, name="churn_validation", context="evaluation")
        model = candidate.build(seed)
        started = time.perf_counter()
        model.fit(train[list(FEATURES)], train[LABEL])
        fit_seconds = time.perf_counter() - started
        for step, point in enumerate(boosting_stages(model, validation), start=1):
            run.log_metrics(point, step=step)
        metrics = evaluate(model, validation)
        run.log_metrics(
            {**metrics, "train_roc_auc": evaluate(model, train)["roc_auc"], "fit_seconds": fit_seconds}
        )
        with tempfile.TemporaryDirectory(prefix="shipyard-demo-") as tmp:
            joblib.dump(model, Path(tmp) / "model.joblib")
            feature_importance(model).to_csv(Path(tmp) / "feature_importance.csv", index=False)
            run.log_artifact(Path(tmp) / "model.joblib")
            run.log_artifact(Path(tmp) / "feature_importance.csv")
        run.set_note(
            f"{candidate.family} {dict(candidate.params)}: validation ROC AUC {metrics['roc_auc']:.3f}"
        )
        return run.id, metrics["roc_auc"]


def comparison_table(runs: list[Run], width: int) -> Table:
    """Child runs ranked by validation ROC AUC; run ids are shown when the console is wide enough."""
    table = Table(
        title="Models by validation ROC AUC", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD
    )
    with_ids = width >= 120
    table.add_column("#", justify="right")
    if with_ids:
        table.add_column("run id", no_wrap=True)
    table.add_column("name", no_wrap=True)
    for key in SHOWN_METRICS:
        table.add_column(key, justify="right", no_wrap=True)
    table.add_column("fit", justify="right", no_wrap=True)
    for rank, run in enumerate(runs, start=1):
        values = [f"{m.value:.3f}" if (m := run.metrics.get(k)) else "—" for k in SHOWN_METRICS]
        fit = f"{m.value:.1f}s" if (m := run.metrics.get("fit_seconds")) else "—"
        ids = [run.id] if with_ids else []
        table.add_row(
            str(rank), *ids, escape(run.name), *values, fit, style="bold green" if rank == 1 else ""
        )
    return table


def next_steps(sweep_id: str, runs: list[Run], first_step: str | None) -> list[tuple[str, str]]:
    """(why, shell command) pairs with the demo's real run ids."""
    best = runs[0].id
    top = " ".join(r.id for r in runs[:3])
    boosted = next((r.id for r in runs if r.tags.get("model_family") == "gradient_boosting"), best)
    steps = [("first, in this shell", first_step)] if first_step else []
    return [
        *steps,
        ("the best model: params, metrics, datasets, artifacts, environment", f"shipyard runs show {best}"),
        ("the top three side by side, differing params highlighted", f"shipyard runs compare {top}"),
        (
            "every run that clears the bar, best first",
            'shipyard runs search "metrics.roc_auc > 0.8" -e churn --order-by "metrics.roc_auc DESC"',
        ),
        ("validation ROC AUC after each boosting stage", f"shipyard runs history {boosted} val_roc_auc"),
        ("where the best model came from: data -> sweep -> model", f"shipyard lineage {best}"),
        ("the sweep and its child runs", f"shipyard runs show {sweep_id}"),
        (
            "fetch the fitted model, verified by digest",
            f"shipyard artifacts get {best} model.joblib -o best-model.joblib",
        ),
        ("browse it all in the web UI (http://127.0.0.1:8080/ui) and the REST API", "shipyard server"),
    ]


def print_next_steps(console: Console, steps: list[tuple[str, str]]) -> None:
    console.rule("[bold]What to look at next", align="left")
    for why, command in steps:
        console.print(f"[dim]# {escape(why)}[/]")
        console.print(Text(command, style="bold"), soft_wrap=True)  # unbroken, so it copies cleanly


def run_demo(
    client: Client,
    workdir: Path,
    seed: int = 7,
    rows: int = 60_000,
    console: Console | None = None,
    *,
    first_step: str | None = None,
) -> DemoResult:
    """Run the whole demo in ``workdir`` and print its story to ``console``.

    ``first_step`` is a shell command the reader must run before the suggested ones (e.g. a ``cd``
    into the folder whose settings the demo used).
    """
    console = console or Console()
    workdir = Path(workdir).resolve()
    with console.status("Generating customer data…"):
        files, train, validation = write_data(workdir / "data", seed, rows)
    console.print(
        f"Generated {len(train) + len(validation):,} customer-months in {escape(str(files.customers.parent))}: "
        f"train {len(train):,} rows (first {MONTHS - VALIDATION_MONTHS} months), validation {len(validation):,} "
        f"rows (last {VALIDATION_MONTHS}); churn rate {train[LABEL].mean():.1%}."
    )
    tags = {"demo": "churn", "kind": "sweep"}
    with client.start_run(experiment=EXPERIMENT, name="model-sweep", tags=tags) as sweep:
        sweep.log_params(
            {
                "seed": seed,
                "rows": rows,
                "validation_months": VALIDATION_MONTHS,
                "candidates": len(CANDIDATES),
            }
        )
        sweep.log_dataset(files.customers, name="customers", context="source")
        sweep.log_dataset(files.train, name="churn_train", output=True)
        sweep.log_dataset(files.validation, name="churn_validation", output=True)
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        scores: list[tuple[str, float]] = []
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("Training", total=len(CANDIDATES))
            for candidate in CANDIDATES:
                progress.update(task, description=f"Training {candidate.name:<18}")
                scores.append(train_candidate(client, sweep.id, candidate, files, train, validation, seed))
                progress.advance(task)
            progress.update(task, description="Trained all models")
        best = max(range(len(scores)), key=lambda i: scores[i][1] if scores[i][1] == scores[i][1] else -1.0)
        sweep.log_metric("best_roc_auc", scores[best][1])
        sweep.set_tag("best_run_id", scores[best][0])
        sweep.set_note(f"{len(CANDIDATES)} models on {rows:,} rows; best: {CANDIDATES[best].name}")
    runs = client.tracking.search_runs(
        [EXPERIMENT], f"parent_id = '{sweep.id}'", ["metrics.roc_auc DESC"], 100
    )
    console.print(comparison_table(runs, console.width))
    print_next_steps(console, next_steps(sweep.id, runs, first_step))
    return DemoResult(sweep.id, tuple(r.id for r in runs), files.customers.parent)
