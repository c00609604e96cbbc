"""Small trained churn models registered through a real tracking run, for the registry tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.app import App
from shipyard.demo.data import generate_churn_data
from shipyard.packaging.package import save_model
from shipyard.registry.entities import ModelVersion
from shipyard.tracking.datasets import describe

NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["contract", "payment_method"]
FEATURES = NUMERIC + CATEGORICAL
LABEL = "churned"


@cache
def churn_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, evaluation) frames: features, ``churned`` and the sensitive ``age_band``."""
    data = generate_churn_data(rows=3000, seed=11)[[*FEATURES, "age_band", LABEL]]
    return data.iloc[:2000].reset_index(drop=True), data.iloc[2000:].reset_index(drop=True)


def train(features: list[str] | None = None, C: float = 1.0) -> Pipeline:
    """A logistic regression on ``features`` (all by default; fewer makes a weaker model). Fitted
    once per process for each (features, C) and shared: callers only predict with it."""
    return _train(tuple(features or FEATURES), C)


@cache
def _train(features_: tuple[str, ...], C: float) -> Pipeline:
    features = list(features_)
    train_frame, _ = churn_data()
    numeric = [f for f in features if f in NUMERIC]
    categorical = [f for f in features if f in CATEGORICAL]
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), numeric),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                    ]
                ),
            ),
            ("clf", LogisticRegression(C=C, max_iter=500)),
        ]
    )
    return model.fit(train_frame[features], train_frame[LABEL])


def log_trained_run(
    app: App,
    tmp: Path,
    model: Pipeline | None = None,
    *,
    features: list[str] | None = None,
    tags: dict[str, str] | None = None,
    git_commit: str | None = None,
) -> str:
    """A finished run holding the packaged model as artifact ``model``; returns its id."""
    from shipyard.tracking.model import RunEnvironment

    features = features or FEATURES
    model = model or train(features)
    train_frame, evaluation = churn_data()
    app.tracking.get_or_create_experiment("churn")
    env = RunEnvironment("3.11", "linux", {}, "pytest", git_commit=git_commit)
    run = app.tracking.create_run("churn", user="alice", tags=tags, environment=env)
    app.tracking.log_params(run.id, {"C": 1.0, "features": ",".join(features)})
    score = float((model.predict(evaluation[features]) == evaluation[LABEL]).mean())
    app.tracking.log_metrics(run.id, [("accuracy", score, 0, 0)])
    app.tracking.log_dataset(run.id, describe(train_frame, "churn-train"), context="training")
    package = tmp / f"{run.id}.zip"
    save_model(model, package, input_example=train_frame[features].head(5))
    app.tracking.log_artifact(run.id, package, "model")
    app.tracking.end_run(run.id)
    return run.id


def register(
    app: App, tmp: Path, name: str = "churn", *, actor: str = "alice", **kwargs: object
) -> ModelVersion:
    return app.registry.create_version(name, log_trained_run(app, tmp, **kwargs), actor=actor)  # type: ignore[arg-type]
