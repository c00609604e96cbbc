"""Signatures: inferred from a training example, checked on every prediction with errors that name
the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.packaging.signature import ColumnSpec, Signature, infer_signature


def _example() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.array([31, 45], dtype="int64"),
            "income": [52000.5, 61000.0],
            "plan": ["basic", "pro"],
            "legacy": pd.Series(["a", None], dtype=object),
            "active": [True, False],
            "signup": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "region": pd.Categorical(["eu", "us"]),
            "score": np.array([0.5, 0.25], dtype="float32"),
        }
    )


def test_inferred_types_name_every_column() -> None:
    signature = infer_signature(_example(), np.array([0, 1]))
    assert signature.inputs == (
        ColumnSpec("age", "int64"),
        ColumnSpec("income", "float64"),
        ColumnSpec("plan", "string"),
        ColumnSpec("legacy", "string"),
        ColumnSpec("active", "bool"),
        ColumnSpec("signup", "datetime"),
        ColumnSpec("region", "category"),
        ColumnSpec("score", "float32"),
    )
    assert signature.outputs == (ColumnSpec("prediction", "int64"),)


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (np.array([0.1, 0.2]), (ColumnSpec("prediction", "float64"),)),
        (np.array([["a"], ["b"]], dtype=object), (ColumnSpec("prediction_0", "string"),)),
        (np.zeros((2, 2)), (ColumnSpec("prediction_0", "float64"), ColumnSpec("prediction_1", "float64"))),
        (pd.Series([1, 2], name="churn"), (ColumnSpec("churn", "int64"),)),
        (
            pd.DataFrame({"p": [0.1, 0.2], "label": ["x", "y"]}),
            (ColumnSpec("p", "float64"), ColumnSpec("label", "string")),
        ),
    ],
)
def test_outputs_take_the_shape_of_what_the_model_returned(
    outputs: object, expected: tuple[ColumnSpec, ...]
) -> None:
    assert infer_signature(_example(), outputs).outputs == expected


def test_round_trips_through_a_dict() -> None:
    signature = infer_signature(_example(), np.array([0, 1]))
    assert Signature.from_dict(signature.to_dict()) == signature


def test_a_malformed_dict_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="dtype") as caught:
        Signature.from_dict({"inputs": [{"name": "a", "dtype": "int128"}], "outputs": []})
    assert caught.value.field == "signature.inputs[0].dtype"
    with pytest.raises(InvalidInput) as caught:
        Signature.from_dict({"inputs": "a", "outputs": []})
    assert caught.value.field == "signature.inputs"


def test_check_reorders_drops_extras_and_widens_safely() -> None:
    signature = Signature((ColumnSpec("x", "float64"), ColumnSpec("n", "int64")), ())
    frame = pd.DataFrame(
        {"extra": ["?", "?"], "n": np.array([1.0, 2.0]), "x": np.array([1, 2], dtype="int32")}
    )
    checked = signature.check(frame)
    assert list(checked.columns) == ["x", "n"]
    assert checked["x"].dtype == np.float64
    assert checked["n"].dtype == np.int64
    assert checked["n"].tolist() == [1, 2]


def test_missing_columns_are_all_named() -> None:
    signature = infer_signature(_example(), np.array([0, 1]))
    with pytest.raises(InvalidInput, match="'plan', 'active'") as caught:
        signature.check(_example().drop(columns=["plan", "active"]))
    assert caught.value.field == "inputs.plan"


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("age", ["31", "45"], "'age' has type string; expected int64"),
        ("age", [31.5, 45.0], "'age' has type float64; expected int64"),
        ("age", [31.0, np.nan], "'age' has missing or infinite values"),
        ("income", ["a", "b"], "'income' has type string; expected float64"),
        ("plan", [1, 2], "'plan' has type int64; expected string"),
        ("active", [1, 0], "'active' has type int64; expected bool"),
        ("signup", ["not a date", "x"], "'signup' has type string; expected datetime"),
        ("region", [1, 2], "'region' has type int64; expected category"),
    ],
)
def test_a_mistyped_column_is_named(column: str, values: list[object], message: str) -> None:
    signature = infer_signature(_example(), np.array([0, 1]))
    frame = _example().assign(**{column: values})
    with pytest.raises(InvalidInput, match=message) as caught:
        signature.check(frame)
    assert caught.value.field == f"inputs.{column}"


def test_lossless_conversions_are_accepted() -> None:
    signature = infer_signature(_example(), np.array([0, 1]))
    frame = _example().assign(
        signup=["2024-01-01", "2024-03-01"],  # ISO strings for a datetime column
        region=["eu", "apac"],  # strings for a category column
        plan=pd.Categorical(["basic", "pro"]),  # categories of strings for a string column
        age=[31.0, 46.0],  # integral floats for an integer column
    )
    checked = signature.check(frame)
    assert checked["signup"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-03-01"]))
    assert str(checked["region"].dtype) == "category"
    assert checked["age"].tolist() == [31, 46]


def test_only_dataframes_are_accepted() -> None:
    with pytest.raises(InvalidInput, match="DataFrame"):
        infer_signature(np.zeros((2, 2)), np.zeros(2))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="DataFrame"):
        infer_signature(_example(), np.zeros(2)).check([[1, 2]])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="column names must be strings"):
        infer_signature(pd.DataFrame(np.zeros((2, 2))), np.zeros(2))
    with pytest.raises(InvalidInput, match="duplicate"):
        infer_signature(pd.DataFrame([[1, 2]], columns=["a", "a"]), np.zeros(1))
