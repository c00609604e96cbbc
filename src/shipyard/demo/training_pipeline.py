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

if TYPE_CHECKING:
    import optuna

EXPERIMENT = "churn"
VALIDATION_MONTHS = 3
#: Sort order that makes the same training set the same bytes, whatever order the join returns.
ROW_ORDER = ["event_timestamp", "customer_id"]
#: Most training rows a trial fits on.
TUNE_ROWS = 10_000


@step(cache=False)
def training_set(labels: str) -> pd.DataFrame:
    """Point-in-time join of the feature service onto the label file (re-read on every run)."""
    entities = pd.read_parquet(labels)
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


@pipeline(name=PIPELINE)  # type: ignore[untyped-decorator]  # returns a PipelineDefinition
def churn_training(labels: str, trials: int = 6, seed: int = 7) -> None:
    """Build the churn training set, tune, evaluate and register a candidate version."""
    frame = training_set(labels)
    model = tune(frame, trials, seed)
    register(model, assess(model, frame), frame)
