"""Each flavor: detected from the model's type, saved without pickle where the library allows it,
loaded back to the same predictions."""

from __future__ import annotations

import io
import zipfile

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from shipyard.errors import InvalidInput
from shipyard.packaging import flavors
from shipyard.packaging.package import build_package, load_model


def _frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows),
            "segment": pd.Categorical(rng.choice(["north", "south", "west"], rows)),
        }
    )
    labels = np.where(frame["a"] + frame["b"] + (frame["segment"] == "west") > 0.5, "churn", "stay")
    return frame, labels


def _payload_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sorted(n for n in archive.namelist() if n.startswith("model/"))


def test_built_in_flavors_are_known_without_entry_points() -> None:
    assert {"sklearn", "xgboost", "lightgbm", "onnx", "pyfunc"} <= set(flavors.names())
    assert flavors.get("lightgbm").name == "lightgbm"


@pytest.mark.parametrize(
    ("model", "flavor"),
    [
        (LogisticRegression(), "sklearn"),
        (RandomForestClassifier(), "sklearn"),
        (xgboost.XGBClassifier(), "xgboost"),
        (xgboost.Booster(), "xgboost"),
        (lightgbm.LGBMRegressor(), "lightgbm"),
    ],
)
def test_flavor_is_detected_from_the_type(model: object, flavor: str) -> None:
    # XGBoost and LightGBM wrappers are scikit-learn estimators too: their own flavor wins.
    assert flavors.detect(model).name == flavor


def test_xgboost_classifier_round_trips_in_native_format() -> None:
    frame, labels = _frame()
    target = (labels == "churn").astype(int)
    model = xgboost.XGBClassifier(
        n_estimators=20, max_depth=3, enable_categorical=True, tree_method="hist", n_jobs=1
    )
    model.fit(frame, target)
    data, manifest = build_package(model, input_example=frame)
    assert (manifest.flavor, manifest.format) == ("xgboost", "xgboost-ubj")
    assert _payload_names(data) == ["model/meta.json", "model/model.ubj"]
    loaded = load_model(data, trust_pickle=False)
    assert isinstance(loaded.raw, xgboost.XGBClassifier)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


def test_xgboost_booster_round_trips() -> None:
    frame, labels = _frame()
    matrix = xgboost.DMatrix(frame, label=(labels == "churn").astype(int), enable_categorical=True)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1}, matrix, num_boost_round=10
    )
    loaded = load_model(build_package(booster, input_example=frame)[0], trust_pickle=False)
    expected = booster.predict(xgboost.DMatrix(frame, enable_categorical=True))
    np.testing.assert_array_equal(loaded.predict(frame), expected)
    assert loaded.predict_proba(frame) is None


def test_lightgbm_classifier_keeps_its_labels_and_probabilities() -> None:
    frame, labels = _frame()
    model = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1, n_jobs=1).fit(frame, labels)
    data, manifest = build_package(model, input_example=frame)
    assert (manifest.flavor, manifest.format) == ("lightgbm", "lightgbm-txt")
    assert manifest.signature.outputs[0].dtype == "string"
    loaded = load_model(data, trust_pickle=False)
    assert isinstance(loaded.raw, lightgbm.Booster)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame), rtol=0, atol=1e-12)
    # A client sending the category column as plain strings gets the same answers.
    as_strings = frame.assign(segment=frame["segment"].astype(str))
    np.testing.assert_array_equal(loaded.predict(as_strings), model.predict(frame))


def test_lightgbm_regressor_round_trips() -> None:
    frame, _ = _frame()
    model = lightgbm.LGBMRegressor(n_estimators=20, verbose=-1, n_jobs=1).fit(frame, frame["a"] * 3)
    loaded = load_model(build_package(model, input_example=frame)[0], trust_pickle=False)
    np.testing.assert_allclose(loaded.predict(frame), model.predict(frame), rtol=0, atol=1e-12)
    assert loaded.predict_proba(frame) is None


def test_native_formats_give_the_same_bytes_when_saved_twice() -> None:
    frame, labels = _frame()
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(frame, labels)
    first, _ = build_package(model, input_example=frame, created_at_ms=1)
    second, _ = build_package(model, input_example=frame, created_at_ms=1)
    assert first == second


def test_an_onnx_model_runs_with_onnxruntime() -> None:
    from skl2onnx import to_onnx

    frame, _ = _frame()
    numeric = frame[["a", "b"]]
    model = LinearRegression().fit(numeric, numeric["a"] * 2 - numeric["b"])
    graph = to_onnx(model, numeric.to_numpy(dtype=np.float32))
    assert flavors.detect(graph).name == "onnx"
    data, manifest = build_package(graph, input_example=numeric)
    assert (manifest.flavor, manifest.format) == ("onnx", "onnx")
    loaded = load_model(data, trust_pickle=False)
    np.testing.assert_allclose(loaded.predict(numeric), model.predict(numeric), atol=1e-5)


@pytest.mark.parametrize("model", [lightgbm.LGBMClassifier(), xgboost.XGBRegressor()])
def test_an_unfitted_model_is_refused_with_a_clear_error(model: object) -> None:
    frame, _ = _frame(10)
    with pytest.raises(InvalidInput, match="is it fitted") as caught:
        build_package(model, input_example=frame)
    assert caught.value.field == "model"
