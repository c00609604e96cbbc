"""The demo's training as a pipeline: training set from the feature store -> a small Optuna search
-> evaluation on the held-out months -> a candidate version of ``churn`` put through the gates.

Steps reach the stores through the process's default client (:func:`shipyard.client.fluent.get_client`):
the demo sets it to its own; a scheduler or server running this pipeline uses its settings. The
training-set step is never cached, since its inputs are files that change under the same name;
the steps after it are, so a run whose training set came out the same reuses them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from shipyard.client.fluent import get_client
from shipyard.demo.data import split_by_time
from shipyard.demo.feature_repo import SERVICE
from shipyard.demo.models import FEATURES, LABEL, THRESHOLD, Candidate, evaluate
from shipyard.demo.names import CANDIDATE_ALIAS, PIPELINE
from shipyard.demo.registry_stage import LIMITATIONS, MODEL
from shipyard.pipelines import Model, pipeline, search, step
from shipyard.registry.entities import Stage
from shipyard.serving.model import CanaryPolicy

if TYPE_CHECKING:
    import optuna

EXPERIMENT = "churn"
VALIDATION_MONTHS = 3
#: Sort order that makes the same training set the same bytes, whatever order the join returns.
ROW_ORDER = ["event_timestamp", "customer_id"]
#: Most training rows a trial fits on.
TUNE_ROWS = 10_000


@step(cache=False)
def training_set(labels: str, recent_months: int) -> pd.DataFrame:
    """Point-in-time join of the feature service onto the label file (re-read on every run); with
    ``recent_months``, only the newest months' labels (after drift, the past teaches less)."""
    entities = pd.read_parquet(labels)
    if recent_months > 0:
        months = sorted(entities["event_timestamp"].unique())[-recent_months:]
        entities = entities[entities["event_timestamp"].isin(months)]
    frame = get_client().features.get_historical_features(entities, service=SERVICE)
    frame = frame.sort_values(ROW_ORDER, ignore_index=True)
    print(f"{len(frame):,} labelled customer-months, {frame['event_timestamp'].nunique()} months")
    return frame


@step
def tune(frame: pd.DataFrame, trials: int, seed: int) -> Model:
    """Search model family and hyperparameters on the training months, scored on the held-out ones."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train, validation = split_by_time(frame, VALIDATION_MONTHS)
    if len(train) > TUNE_ROWS:  # a sample of the training months keeps each trial to seconds
        train = train.sample(n=TUNE_ROWS, random_state=seed).sort_values(ROW_ORDER, ignore_index=True)

    def objective(trial: optuna.Trial) -> tuple[float, Model]:
        family = trial.suggest_categorical("family", ["logistic_regression", "gradient_boosting"])
        if family == "logistic_regression":
            params: dict[str, float] = {"C": trial.suggest_float("C", 1e-3, 10.0, log=True)}
        else:
            params = {
                "n_estimators": trial.suggest_int("n_estimators", 20, 60, step=20),
                "learning_rate": trial.suggest_float("learning_rate", 0.05, 0.3, log=True),
            }
        model = Candidate(f"trial-{trial.number}", family, params).build(seed)
        model.fit(train[list(FEATURES)], train[LABEL])
        auc = evaluate(model, validation)["roc_auc"]
        return (auc if math.isfinite(auc) else 0.0), Model(model, input_example=train[list(FEATURES)].head(5))

    result = search(objective, n_trials=trials, direction="maximize", seed=seed)
    print(f"best of {trials} trials: {result.best_params} validation ROC AUC {result.best_value:.4f}")
    assert result.best_model is not None  # every trial returns its model
    return result.best_model


@step
def assess(model: Model, frame: pd.DataFrame) -> dict[str, float]:
    """Validation metrics of the tuned model on the held-out months (an undefined one is left out)."""
    _, validation = split_by_time(frame, VALIDATION_MONTHS)
    return {k: v for k, v in evaluate(model.model, validation).items() if math.isfinite(v)}


@step
def register(model: Model, metrics: dict[str, float], frame: pd.DataFrame) -> dict[str, object]:
    """Record the tuned model as a run of ``churn``, register it, stage it and measure the production
    gates on the held-out months. Production itself waits for a reviewer and live evidence (the
    canary), so the version gets the alias ``candidate`` rather than ``champion``."""
    client = get_client()
    registry = client.registry
    user = client.user
    _, validation = split_by_time(frame, VALIDATION_MONTHS)
    tags = {"demo": "churn", "source": "pipeline", "shipyard.pipeline": PIPELINE}
    with client.start_run(experiment=EXPERIMENT, name="pipeline-candidate", tags=tags) as run:
        run.log_params({"decision_threshold": THRESHOLD, "pipeline": PIPELINE})
        run.log_dataset(validation, name="churn_validation", context="evaluation")
        run.log_metrics(metrics)
        run.log_model(model.model, "model", input_example=model.input_example)
    version = registry.create_version(
        MODEL, run.id, description=f"candidate from the pipeline {PIPELINE}", limitations=LIMITATIONS,
        actor=user,
    )  # fmt: skip
    registry.transition(MODEL, version.version, Stage.STAGING, actor=user, comment=f"from {PIPELINE}")
    report = registry.evaluate_gates(
        MODEL, version.version, Stage.PRODUCTION, validation, label=LABEL, actor=user
    )
    registry.set_alias(MODEL, CANDIDATE_ALIAS, version.version, actor=user)
    failed = [r.name for r in report.results if not r.passed]
    print(f"registered {MODEL}/{version.version}; gates failed: {failed or 'none'}")
    return {"model": MODEL, "version": version.version, "run_id": run.id, "gates_failed": failed}


#: How a canary started by a retraining run advances: one step at 50%, then all traffic. Agreement
#: with the primary is not asked for: after drift, a retrained model is meant to answer differently.
RETRAIN_CANARY = CanaryPolicy(steps=(50, 100), step_seconds=0, min_requests=100, min_agreement=0.0)


@step(cache=False)
def release(registered: dict[str, object], deployment: str) -> dict[str, object]:
    """With ``deployment`` (a drift trigger sets it), start a canary of the new version there, if its
    gates passed (the reviewer's approval excepted: live evidence comes first). The canary decider
    then promotes or rolls it back from the live figures."""
    if not deployment:
        return {"canary": None}
    failed = [g for g in registered["gates_failed"] if g != "approval"]  # type: ignore[attr-defined]
    if failed:
        print(f"{MODEL}/{registered['version']} failed its gates {failed}: no canary")
        return {"canary": None, "refused": failed}
    client = get_client()
    current = client.deployments.get(deployment).role("primary")
    primary = f"{MODEL}@{current.version}" if current is not None else f"{MODEL}@champion"
    client.deployments.deploy(
        deployment, primary, strategy="canary", challenger=f"{MODEL}@{registered['version']}",
        canary=RETRAIN_CANARY, actor=client.user,
    )  # fmt: skip
    print(f"canary of {MODEL}/{registered['version']} on {deployment} at {RETRAIN_CANARY.steps[0]}%")
    return {"canary": deployment, "version": registered["version"]}


@pipeline(name=PIPELINE)  # type: ignore[untyped-decorator]  # returns a PipelineDefinition
def churn_training(
    labels: str, trials: int = 6, seed: int = 7, canary: str = "", recent_months: int = 0
) -> None:
    """Build the churn training set, tune, evaluate and register a candidate version; with
    ``canary`` (a deployment), start a canary of it there; with ``recent_months``, train on the
    newest months only."""
    frame = training_set(labels, recent_months)
    model = tune(frame, trials, seed)
    release(register(model, assess(model, frame), frame), canary)
