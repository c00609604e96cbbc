"""The prediction server's per-batch frame: numeric signatures skip the second signature check and
must answer exactly as the model's own checked ``predict`` does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard.errors import InvalidInput
from shipyard.packaging.package import LoadedModel, build_package, load_model
from shipyard.serving.runtime.frames import batch_predictor
from shipyard.serving.runtime.payloads import check_columns


def _numeric_model() -> LoadedModel:
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, 400),
            "charges": rng.normal(60, 20, 400),
            "calls": rng.integers(0, 8, 400),
            "paperless": rng.integers(0, 2, 400).astype(bool),
        }
    )
    label = (data.calls + data.paperless > 4).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data, label)
    package, _ = build_package(model, input_example=data.head(5))
    return load_model(package, trust_pickle=False)


@pytest.fixture(scope="module")
def numeric() -> LoadedModel:
    return _numeric_model()


def _specs(loaded: LoadedModel) -> tuple[tuple[str, str], ...]:
    return tuple((c.name, c.dtype) for c in loaded.signature.inputs)


def test_numeric_batch_matches_the_checked_predict(numeric: LoadedModel) -> None:
    specs = _specs(numeric)
    assert [d for _, d in specs] == ["int64", "float64", "int64", "bool"]
    sent = {
        "calls": [7, 0, 5.0, 2],  # whole floats are accepted for integer columns
        "tenure": [3, 70, 12, 40],
        "paperless": [True, False, True, True],
        "charges": [50.5, 99, 20.25, 61.0],  # integers are accepted for float columns
        "extra": ["dropped", "by", "the", "check"],
    }
    columns = check_columns(specs, sent)
    fast = batch_predictor(numeric, specs)(columns)
    reference = numeric.predict(pd.DataFrame(sent))
    assert fast.tolist() == reference.tolist()
    assert sorted(set(fast.tolist())) == [0, 1]  # both classes: the rows really reach the model


def test_an_integer_past_int64_is_refused_naming_its_column(numeric: LoadedModel) -> None:
    specs = _specs(numeric)
    columns = check_columns(specs, {"tenure": [2**70], "charges": [1.0], "calls": [1], "paperless": [False]})
    with pytest.raises(InvalidInput) as caught:
        batch_predictor(numeric, specs)(columns)
    assert caught.value.field == "inputs.tenure"


def test_a_missing_number_is_refused_by_the_model_as_bad_input(numeric: LoadedModel) -> None:
    specs = _specs(numeric)
    columns = check_columns(specs, {"tenure": [1], "charges": [None], "calls": [1], "paperless": [True]})
    with pytest.raises(InvalidInput, match="could not score") as caught:
        batch_predictor(numeric, specs)(columns)
    assert caught.value.field == "inputs"
