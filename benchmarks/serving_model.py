"""The model every serving benchmark scores: a scikit-learn pipeline (scaler + logistic regression)
on three numeric columns, trained on the same seeded data wherever it is built, so Shipyard and
MLflow serve the same model. Runs under our venv and under ``.venv-mlflow`` (``python
serving_model.py mlflow OUT_DIR`` saves it as an MLflow model)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROW = {"tenure_months": 3, "monthly_charges": 50.5, "support_calls": 2}


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, rows),
            "monthly_charges": rng.normal(60, 20, rows),
            "support_calls": rng.integers(0, 8, rows),
        }
    )


def train(seed: int = 0) -> object:
    data = frame(2000, seed)
    label = (data.support_calls + np.random.default_rng(seed + 1).integers(0, 3, len(data)) > 4).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(data, label)


if __name__ == "__main__" and sys.argv[1:2] == ["mlflow"]:
    import mlflow.sklearn

    mlflow.sklearn.save_model(train(), sys.argv[2], input_example=frame(5))
