"""ONNX export of a realistic scikit-learn pipeline (numeric scaling with imputation, one-hot
strings) scores like the original: probabilities within 1e-4 on the input example and on held-out
data, including categories the model never saw."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.errors import Conflict, InvalidInput
from shipyard.packaging.onnx_export import ParityReport, export_onnx
from shipyard.packaging.package import LoadedModel, build_package, load_model, payload_entries

TOLERANCE = 1e-4  # on class probabilities; ONNX computes in float32, observed differences ~1e-7


def _customers(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, rows),
            "monthly_charges": rng.normal(70.0, 25.0, rows).round(2),
            "support_calls": rng.poisson(1.5, rows).astype("float64"),
            "contract": rng.choice(["month-to-month", "one-year", "two-year"], rows, p=[0.5, 0.3, 0.2]),
            "payment": rng.choice(["card", "transfer", "check"], rows),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "support_calls"] = np.nan
    score = (
        0.04 * (frame["monthly_charges"] - 70)
        - 0.05 * frame["tenure_months"]
        + 0.4 * frame["support_calls"].fillna(1.5)
        + np.where(frame["contract"] == "month-to-month", 1.5, -1.0)
    )
    churn = (score + rng.normal(0, 1, rows) > 0).to_numpy().astype(int)
    return frame, churn


@pytest.fixture(scope="module")
def churn_model() -> tuple[LoadedModel, pd.DataFrame]:
    train, target = _customers(2000, seed=1)
    numeric = ["tenure_months", "monthly_charges", "support_calls"]
    columns = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["contract", "payment"]),
        ]
    )
    model = Pipeline([("columns", columns), ("classifier", LogisticRegression(max_iter=500))]).fit(
        train, target
    )
    heldout, _ = _customers(500, seed=2)
    heldout.loc[heldout.index[:10], "payment"] = "crypto"  # unseen category: ignored by both
    package, _ = build_package(model, input_example=train.head(50))
    return load_model(package, trust_pickle=False), heldout


def test_pipeline_export_matches_on_example_and_heldout(
    churn_model: tuple[LoadedModel, pd.DataFrame],
) -> None:
    loaded, heldout = churn_model
    package, reports = export_onnx(loaded, heldout=heldout, tolerance=TOLERANCE)

    assert [(r.dataset, r.rows, r.passed, r.tolerance) for r in reports] == [
        ("input_example", 5, True, TOLERANCE),
        ("heldout", 500, True, TOLERANCE),
    ]
    assert all(0 <= r.max_abs_diff < TOLERANCE for r in reports), reports

    exported = load_model(package, trust_pickle=False)
    assert (exported.flavor, exported.manifest.format) == ("onnx", "onnx")
    assert exported.signature == loaded.signature
    onnx.checker.check_model(onnx.load_from_string(payload_entries(package)["model.onnx"]))

    expected = loaded.predict_proba(heldout)
    actual = exported.predict_proba(heldout)
    assert expected is not None and actual is not None
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)
    # Labels agree except where the classes are tied within the tolerance.
    undecided = np.abs(expected[:, 1] - 0.5) < TOLERANCE
    labels = exported.predict(heldout)
    assert (labels == loaded.predict(heldout))[~undecided].all()


def test_parity_failure_names_the_difference(churn_model: tuple[LoadedModel, pd.DataFrame]) -> None:
    loaded, heldout = churn_model
    # float32 arithmetic never matches float64 exactly on 500 rows.
    with pytest.raises(Conflict, match=r"max absolute difference .* exceeds the tolerance 0") as caught:
        export_onnx(loaded, heldout=heldout, tolerance=0.0)
    assert caught.value.field == "tolerance"


def test_regressor_parity_is_relative_to_the_prediction() -> None:
    frame, _ = _customers(400, seed=3)
    numeric = frame[["tenure_months", "monthly_charges"]]
    target = numeric["monthly_charges"] * 1000 + numeric["tenure_months"]
    model = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0).fit(numeric, target)
    loaded = load_model(build_package(model, input_example=numeric)[0], trust_pickle=False)
    heldout, _ = _customers(200, seed=4)
    _, reports = export_onnx(loaded, heldout=heldout[["tenure_months", "monthly_charges"]])
    assert all(isinstance(r, ParityReport) and r.passed for r in reports)


def test_only_scikit_learn_models_are_exported() -> None:
    import lightgbm

    frame, target = _customers(200, seed=5)
    numeric = frame[["tenure_months", "monthly_charges"]]
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(numeric, target)
    loaded = load_model(build_package(model, input_example=numeric)[0], trust_pickle=False)
    with pytest.raises(InvalidInput, match="flavor is 'lightgbm'") as caught:
        export_onnx(loaded)
    assert caught.value.field == "flavor"
