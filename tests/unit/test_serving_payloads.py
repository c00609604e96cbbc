"""Request bodies of the three protocols read into columns, and the per-request signature check."""

from __future__ import annotations

import pytest

from shipyard.errors import InvalidInput
from shipyard.serving.runtime.payloads import check_columns, parse_mlflow, parse_own, parse_v2
from shipyard.serving.sources import MemoryDeployments, parse_model_ref
from shipyard.serving.windows import WindowCounter

SPECS = (("age", "int64"), ("income", "float64"), ("city", "string"), ("vip", "bool"))


def test_own_json_one_row_or_many() -> None:
    one = parse_own({"inputs": {"age": 3, "city": "x"}})
    assert one.single and one.n == 1 and one.columns == {"age": [3], "city": ["x"]}
    many = parse_own({"inputs": [{"age": 1}, {"age": 2, "city": "y"}]})
    assert many.n == 2 and many.columns == {"age": [1, 2], "city": [None, "y"]}
    with pytest.raises(InvalidInput, match="one per row") as info:
        parse_own({"inputs": [{"age": 1}], "entities": [{"id": 1}, {"id": 2}]})
    assert info.value.field == "entities"


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["age", "city"], "data": [[1, "a"], [2, "b"]]}},
        {"dataframe_records": [{"age": 1, "city": "a"}, {"age": 2, "city": "b"}]},
        {"instances": [{"age": 1, "city": "a"}, {"age": 2, "city": "b"}]},
        {"inputs": {"age": [1, 2], "city": ["a", "b"]}},
    ],
)
def test_mlflow_shapes_read_the_same(body: dict[str, object]) -> None:
    assert parse_mlflow(body).columns == {"age": [1, 2], "city": ["a", "b"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ([], "body"),
        ({"instances": [], "inputs": {}}, "inputs"),
        ({"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}, "dataframe_split.data[0]"),
        ({"inputs": {"a": [1, 2], "b": [1]}}, "inputs.b"),
    ],
)
def test_mlflow_bad_shapes_name_the_field(body: object, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_mlflow(body)
    assert info.value.field == field


def test_v2_tensors_are_columns() -> None:
    rows = parse_v2(
        {
            "id": "r1",
            "inputs": [
                {"name": "age", "shape": [2, 1], "datatype": "INT64", "data": [[1], [2]]},
                {"name": "city", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]},
            ],
        }
    )
    assert rows.request_id == "r1" and rows.columns == {"age": [1, 2], "city": ["a", "b"]}
    with pytest.raises(InvalidInput) as info:
        parse_v2({"inputs": [{"name": "age", "shape": [3], "datatype": "INT64", "data": [1, 2]}]})
    assert info.value.field == "inputs[0].data"
    with pytest.raises(InvalidInput) as info:
        parse_v2({"inputs": [{"name": "age", "shape": [1], "datatype": "FP128", "data": [1]}]})
    assert info.value.field == "inputs[0].datatype"


def test_signature_check_names_missing_and_mistyped_columns() -> None:
    ok = check_columns(
        SPECS, {"age": [1, 2.0], "income": [1, None], "city": ["a", None], "vip": [True, False], "x": [0, 0]}
    )
    assert list(ok) == ["age", "income", "city", "vip"]  # extras dropped, signature order
    with pytest.raises(InvalidInput) as info:
        check_columns(SPECS, {"age": [1], "income": [1.0]})
    assert info.value.field == "inputs.city" and "'vip'" in info.value.message
    for column, bad in (("age", 1.5), ("age", True), ("income", "1"), ("city", 3), ("vip", 1)):
        columns = {"age": [1], "income": [1.0], "city": ["a"], "vip": [True], column: [bad]}
        with pytest.raises(InvalidInput) as info:
            check_columns(SPECS, columns)
        assert info.value.field == f"inputs.{column}"


def test_model_refs_and_the_memory_source() -> None:
    assert parse_model_ref("churn@champion") == ("churn", "champion")
    assert parse_model_ref("churn/3") == ("churn", "3")
    with pytest.raises(InvalidInput, match="NAME@ALIAS"):
        parse_model_ref("churn")
    source = MemoryDeployments()
    assert source.revision() == 0
    with pytest.raises(Exception, match="does not exist"):
        source.get("x")


def test_window_counter_reports_cumulative_latency_buckets_and_starts_anew() -> None:
    counter = WindowCounter()
    key = ("d", "m", 1, "primary")
    for ms in (0.5, 3, 3, 40, 9000):
        counter.observe(key, ms)
    counter.observe(key, 1, error=True)
    counter.compare(key, True)
    counter.compare(key, False)
    (window,) = counter.take()
    assert (window.requests, window.errors, window.compared, window.agreed) == (6, 1, 2, 1)
    assert (
        window.latency_buckets[1] == 2 and window.latency_buckets[5] == 4 and window.latency_buckets[50] == 5
    )
    assert window.latency_buckets[float("inf")] == 6
    assert counter.take() == []
