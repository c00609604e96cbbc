"""The demo's model candidates and how they are scored: scikit-learn pipelines on the churn data."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ("tenure_months", "monthly_charges", "total_charges", "support_calls")
CATEGORICAL = ("contract", "payment_method", "internet_service", "region")
FEATURES = NUMERIC + CATEGORICAL
LABEL = "churned"
#: Scores at or above this count as "will churn" for accuracy, precision, recall and F1. Churn is
#: about 10% a month, so 0.5 would flag almost nobody.
THRESHOLD = 0.3


@dataclass(frozen=True)
class Candidate:
    """One model configuration of the sweep."""

    name: str
    family: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def build(self, seed: int) -> Pipeline:
        if self.family == "logistic_regression":
            scale: Any = StandardScaler()
            model: Any = LogisticRegression(C=self.params["C"], max_iter=1000)
        elif self.family == "random_forest":
            scale = "passthrough"
            model = RandomForestClassifier(
                n_estimators=self.params["n_estimators"],
                max_depth=self.params["max_depth"],
                min_samples_leaf=20,
                n_jobs=-1,
                random_state=seed,
            )
        else:
            scale = "passthrough"
            model = GradientBoostingClassifier(
                n_estimators=self.params["n_estimators"],
                learning_rate=self.params["learning_rate"],
                max_depth=3,
                subsample=0.8,
                random_state=seed,
            )
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        prepare = ColumnTransformer([("num", scale, list(NUMERIC)), ("cat", encode, list(CATEGORICAL))])
        return Pipeline([("prepare", prepare), ("model", model)])


CANDIDATES = (
    Candidate("logreg-C0.01", "logistic_regression", {"C": 0.01}),
    Candidate("logreg-C0.1", "logistic_regression", {"C": 0.1}),
    Candidate("logreg-C1", "logistic_regression", {"C": 1.0}),
    Candidate("forest-depth4", "random_forest", {"n_estimators": 100, "max_depth": 4}),
    Candidate("forest-depth10", "random_forest", {"n_estimators": 100, "max_depth": 10}),
    Candidate("boosting-100x0.1", "gradient_boosting", {"n_estimators": 100, "learning_rate": 0.1}),
    Candidate("boosting-200x0.05", "gradient_boosting", {"n_estimators": 200, "learning_rate": 0.05}),
)


def _auc(y: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float:
    return float(roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else math.nan


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict[str, float]:
    """Validation metrics of a fitted pipeline on ``frame``."""
    y = frame[LABEL].to_numpy()
    scores = model.predict_proba(frame[list(FEATURES)])[:, 1]
    predicted = (scores >= THRESHOLD).astype(int)
    return {
        "roc_auc": _auc(y, scores),
        "log_loss": float(log_loss(y, scores, labels=[0, 1])),
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
    }


def staged_metrics(model: Pipeline, frame: pd.DataFrame) -> Iterator[dict[str, float]]:
    """Validation log-loss and ROC AUC after each boosting stage (nothing for other models)."""
    estimator = model.named_steps["model"]
    if not hasattr(estimator, "staged_predict_proba"):
        return
    features = model.named_steps["prepare"].transform(frame[list(FEATURES)])
    y = frame[LABEL].to_numpy()
    for proba in estimator.staged_predict_proba(features):
        yield {
            "val_log_loss": float(log_loss(y, proba[:, 1], labels=[0, 1])),
            "val_roc_auc": _auc(y, proba[:, 1]),
        }


def feature_importance(model: Pipeline) -> pd.DataFrame:
    """Importance per encoded feature: impurity importance for trees, |coefficient| for logistic
    regression (on standardised inputs), largest first."""
    names = model.named_steps["prepare"].get_feature_names_out()
    estimator = model.named_steps["model"]
    values = (
        estimator.feature_importances_
        if hasattr(estimator, "feature_importances_")
        else abs(estimator.coef_[0])
    )
    table = pd.DataFrame({"feature": names, "importance": values})
    return table.sort_values("importance", ascending=False, ignore_index=True)
