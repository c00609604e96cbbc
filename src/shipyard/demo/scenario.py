"""The demo: the churn lifecycle from raw files to a governed production model.

1. generate a year of customer data, split into profile, activity and label files;
2. register feature definitions and build the training set with a point-in-time join
   (:mod:`.feature_stage`);
3. sweep a few models as nested runs on it, each logging the training set and a packaged model;
4. materialize the features online and read a few customers back;
5. register the two best models, run the promotion gates, approve and promote the one that passes
   and write its model card (:mod:`.registry_stage`).

Lineage it leaves behind: source files -> feature views -> training set ``churn_training`` ->
run ``model-sweep`` -> one child run per model -> packaged ``model`` -> versions of ``churn``.
"""

from __future__ import annotations

import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
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

from shipyard.app import build_app
from shipyard.demo import onboarding
from shipyard.demo.data import MONTHS, generate_churn_data, split_by_time
from shipyard.demo.feature_stage import TrainingSet, build_training_set, serve_online
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
from shipyard.demo.monitoring_stage import MonitoringOutcome, run_monitoring_stage
from shipyard.demo.pipeline_stage import TRIALS, PipelineOutcome, run_pipeline_stage
from shipyard.demo.registry_stage import MODEL, RegistryOutcome, govern
from shipyard.demo.scoring_stage import ScoringOutcome, redis_url_for, run_scoring_stage
from shipyard.demo.serving_stage import ServingOutcome, run_serving_stage
from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.client import Client
    from shipyard.tracking.model import Run

EXPERIMENT = "churn"
#: The candidate runs' tag naming their model family (the boosted run is found by it).
FAMILY_TAG = "model_family"
VALIDATION_MONTHS = 3
SHOWN_METRICS = ("roc_auc", "log_loss", "precision", "recall", "f1")


@dataclass(frozen=True)
class DemoResult:
    sweep_id: str
    run_ids: tuple[str, ...]  # child runs, best validation ROC AUC first
    data_dir: Path
    registry: RegistryOutcome
    pipeline: PipelineOutcome
    serving: ServingOutcome
    scoring: ScoringOutcome
    monitoring: MonitoringOutcome

    @property
    def best_run_id(self) -> str:
        return self.run_ids[0]


def recent_data(seed: int, rows: int, today: pd.Timestamp | None = None) -> pd.DataFrame:
    """The seeded churn data, moved in time so that its last month ended just before ``today``
    (feature values have a freshness limit online, so a year-old demo would serve nothing)."""
    data = generate_churn_data(rows, seed)
    today = (today or pd.Timestamp.now(tz="UTC")).normalize()
    shift = today - pd.Timedelta(days=1) - data["event_timestamp"].max()
    data["event_timestamp"] = data["event_timestamp"] + pd.Timedelta(days=shift.days)
    return data


def train_candidate(
    client: Client,
    sweep_id: str,
    candidate: Candidate,
    training: TrainingSet,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    seed: int,
) -> tuple[str, float]:
    """Fit one candidate as a child run of the sweep; returns the run id and validation ROC AUC."""
    tags = {FAMILY_TAG: candidate.family, "demo": "churn"}
    with client.start_run(experiment=EXPERIMENT, name=candidate.name, parent=sweep_id, tags=tags) as run:
        run.log_params(
            {"model": candidate.family, **candidate.params, "decision_threshold": THRESHOLD, "seed": seed}
        )
        run.log_dataset(training.dataset, name="churn_training", context="training")
        run.log_dataset(validation, name="churn_validation", context="evaluation")
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
        run.log_model(model, "model", input_example=train[list(FEATURES)].head(5))
        with tempfile.TemporaryDirectory(prefix="shipyard-demo-") as tmp:
            feature_importance(model).to_csv(Path(tmp) / "feature_importance.csv", index=False)
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


def next_steps(
    sweep_id: str,
    runs: list[Run],
    first_step: str | None,
    customer: str,
    champion: str,
    *,
    evaluation: Path | None = None,
    pipeline: PipelineOutcome | None = None,
    serving: ServingOutcome | None = None,
    monitoring: MonitoringOutcome | None = None,
) -> list[tuple[str, str]]:
    """(why, shell command) pairs with the demo's real ids, runnable as printed in a plain shell."""
    best = runs[0].id
    top = " ".join(r.id for r in runs[:3])
    boosted = next((r.id for r in runs if r.tags.get(FAMILY_TAG) == "gradient_boosting"), best)
    setup = onboarding.shell_setup()
    steps = [("first, in this shell: put this Shipyard's `shipyard` on the PATH", setup)] if setup else []
    steps += [("then, in the same shell", first_step)] if first_step else []
    gates = (
        [
            (
                "measure the champion's promotion gates again, on the demo's evaluation rows",
                f"shipyard models gates {champion} --stage production "
                f"--data {shlex.quote(str(evaluation))} --label {LABEL}",
            )
        ]
        if evaluation
        else []
    )
    later: list[tuple[str, str]] = []
    if pipeline is not None:
        later += [
            (
                "the training pipeline's runs: one by the demo, one fired by the new data",
                f"shipyard pipelines runs {pipeline.pipeline}",
            ),
            ("what the tuning step printed", f"shipyard pipelines logs {pipeline.first_run_id} --step tune"),
            (
                "the new-data trigger and its firing",
                f"shipyard pipelines triggers show {pipeline.new_data_trigger}",
            ),
        ]
    if serving is not None:
        later += [
            (
                "the deployment: versions, split, the canary's decision and its figures",
                f"shipyard deployments show {serving.deployment}",
            ),
            (
                "every change to the deployment, the decider's included, in the audit trail",
                f"shipyard audit list --object-id {serving.deployment}",
            ),
        ]
    if monitoring is not None:
        later.append(
            (
                "the monitor: its window, reference and latest figures",
                f"shipyard monitor show {monitoring.monitor}",
            )
        )
        if monitoring.alert_id is not None:
            later.append(
                (
                    "the closed loop: alert -> event -> retraining run -> version -> gates -> canary",
                    f"shipyard monitor explain {monitoring.alert_id}",
                )
            )
    if evaluation is not None:
        scored = evaluation.with_name("scored-again.parquet")
        later.append(
            (
                "score a file with the champion, recorded as a run with its input and output",
                f"shipyard predict {champion} --input {shlex.quote(str(evaluation))} "
                f"--output {shlex.quote(str(scored))}",
            )
        )
    return [
        *steps,
        ("the feature catalog: views, owners, tags", "shipyard features list"),
        (
            "one view: versions, features, source, TTL, statistics",
            "shipyard features describe customer_activity",
        ),
        (
            "the features the model is served, for one customer",
            f"shipyard features online --service churn_model --entity customer_id={customer}",
        ),
        ("the best model: params, metrics, datasets, artifacts, environment", f"shipyard runs show {best}"),
        ("the top three side by side, differing params highlighted", f"shipyard runs compare {top}"),
        (
            "every run that clears the bar, best first",
            'shipyard runs search "metrics.roc_auc > 0.8" -e churn --order-by "metrics.roc_auc DESC"',
        ),
        ("validation ROC AUC after each boosting stage", f"shipyard runs history {boosted} val_roc_auc"),
        (
            "where the best model came from: files -> features -> training set -> run",
            f"shipyard lineage {best}",
        ),
        ("the sweep and its child runs", f"shipyard runs show {sweep_id}"),
        ("the registered model: versions, stages, aliases, gates", f"shipyard models show {MODEL}"),
        ("the champion's model card", f"shipyard models card {champion}"),
        (
            "every governed change to the model, and a check that none was tampered with",
            f"shipyard audit list --model {MODEL} && shipyard audit verify",
        ),
        *gates,
        *later,
        (
            f"the web UI, as the read-only user {onboarding.VIEWER}: a token (shown once) to paste at "
            "http://127.0.0.1:8080/ui/login",
            f"shipyard tokens create {onboarding.VIEWER} --expires-in 7d",
        ),
        (
            "then start the server (web UI at http://127.0.0.1:8080/ui, REST API docs at /docs)",
            "shipyard server",
        ),
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
    redis_url: str | None = None,
) -> DemoResult:
    """Run the whole demo in ``workdir`` and print its story to ``console``.

    ``first_step`` is a shell command the reader must run before the suggested ones (e.g. a ``cd``
    into the folder whose settings the demo used). ``redis_url`` is a Redis the stream-scoring step
    may use (without one, and without a Redis online store, that step is skipped).
    """
    if client.remote:
        raise ConfigError(
            "the demo applies feature definitions and registers models next to the stores: "
            "unset SHIPYARD_URL and point SHIPYARD_DB_URL / SHIPYARD_ARTIFACTS at them instead"
        )
    console = console or Console()
    started = time.monotonic()
    workdir = Path(workdir).resolve()
    with console.status("Generating customer data…"):
        data = recent_data(seed, rows)
    console.print(
        f"Generated {len(data):,} customer-months ({MONTHS} months up to "
        f"{data['event_timestamp'].max():%Y-%m-%d}); churn rate {data[LABEL].mean():.1%}."
    )
    training = build_training_set(client, data, workdir / "data", console)
    train, validation = split_by_time(training.frame, VALIDATION_MONTHS)
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
        sweep.log_dataset(training.dataset, name="churn_training", context="training")
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
                scores.append(train_candidate(client, sweep.id, candidate, training, train, validation, seed))
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
    customers = sorted(validation["customer_id"].unique())[:3]
    serve_online(client, customers, data["event_timestamp"].max().to_pydatetime(), console)
    outcome = govern(client, [r.id for r in runs], validation, workdir, console)
    console.rule("[bold]Training as a pipeline, with triggers", align="left")
    pipeline = run_pipeline_stage(client, workdir / "data", console, seed=seed, rows=rows)
    champion = f"{MODEL}@champion" if outcome.champion else f"{MODEL}/{outcome.challenger.version}"
    onboarding.ensure_viewer(client)
    evaluation = onboarding.save_evaluation(validation, workdir)
    app = build_app(client.settings, migrate=False)
    try:
        console.rule("[bold]Serving: deployment, traffic, canary", align="left")
        serving = run_serving_stage(
            app, client, champion, validation, client.settings.home / "spill", console
        )
        console.rule("[bold]Batch and stream scoring", align="left")
        scoring = run_scoring_stage(
            app,
            champion,
            evaluation,
            validation,
            redis_url_for(client.settings.online_store, redis_url),
            console,
        )
        console.rule("[bold]Monitoring: drift, alert, retraining, canary", align="left")
        monitoring = run_monitoring_stage(
            app, client, workdir / "data", client.settings.home / "spill", console, seed=seed, trials=TRIALS
        )
    finally:
        app.close()
    steps = next_steps(
        sweep.id,
        runs,
        first_step,
        customers[0],
        champion,
        evaluation=evaluation,
        pipeline=pipeline,
        serving=serving,
        monitoring=monitoring,
    )
    console.print(f"Demo done in {time.monotonic() - started:.0f} s.")
    print_next_steps(console, steps)
    return DemoResult(
        sweep.id, tuple(r.id for r in runs), workdir / "data", outcome, pipeline, serving, scoring, monitoring
    )
