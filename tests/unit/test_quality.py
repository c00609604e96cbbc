"""Data quality of a window against the prepared reference: schema, nulls, ranges, unseen values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.monitoring.drift import Reference, prepare_reference
from shipyard.monitoring.quality import check_quality

REFERENCE = pd.DataFrame(
    {
        "age": [20, 35, 50, 65, 41, 33, 28, 60],
        "income": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0],
        "region": ["north", "south", "east", "west", "north", "south", None, "east"],
        "seats": [1, 2, 3, 1, 2, 3, 1, 2],
        "active": [True, False, True, True, False, True, True, False],
    }
)


def test_null_shares_of_both_sides() -> None:
    current = REFERENCE.assign(income=[np.nan, np.nan, 3.0, np.nan, 5.0, 6.0, 7.0, 8.0])
    report = check_quality(prepare_reference(REFERENCE), current)
    income = report.column("income")
    assert (income.null_share_reference, income.null_share_current) == (1 / 8, 3 / 8)
    assert report.figures()["quality.nulls.income"] == 3 / 8
    assert report.column("region").null_share_reference == 1 / 8


def test_values_outside_the_reference_range_including_inf() -> None:
    current = pd.DataFrame({"age": [19, 20, 65, 66, 40], "income": [0.5, 8.0, np.inf, 3.0, np.nan]})
    report = check_quality(prepare_reference(REFERENCE), current)
    assert report.column("age").out_of_range_share == 2 / 5
    assert (report.column("age").reference_min, report.column("age").reference_max) == (20.0, 65.0)
    assert report.column("income").out_of_range_share == 2 / 5  # 0.5 below, inf above; NaN is a null
    assert report.figures()["quality.out_of_range.age"] == 2 / 5


def test_unseen_categories_are_listed_with_their_share() -> None:
    current = pd.DataFrame({"region": ["north", "mars", "mars", "venus", None], "seats": [1, 2, 7, 1, 1]})
    report = check_quality(prepare_reference(REFERENCE), current)
    region = report.column("region")
    assert set(region.unseen) == {"mars", "venus"}
    assert region.unseen_share == 3 / 5
    assert report.figures()["quality.unseen.region"] == 3 / 5
    # An integer code with few reference values is also checked for unseen values.
    assert (report.column("seats").unseen, report.column("seats").unseen_share) == (("7",), 1 / 5)


def test_missing_unexpected_and_retyped_columns() -> None:
    current = pd.DataFrame({"age": ["twenty", "thirty"], "region": ["north", "south"], "extra": [1, 2]})
    report = check_quality(prepare_reference(REFERENCE), current)
    assert report.missing_columns == ("income", "seats", "active")
    assert report.unexpected_columns == ("extra",)
    assert report.type_mismatches == ("age",)
    figures = report.figures()
    assert (figures["quality.missing_columns"], figures["quality.unexpected_columns"]) == (3.0, 1.0)
    assert figures["quality.type_mismatches"] == 1.0
    assert "quality.out_of_range.age" not in figures


def test_int_read_as_float_is_not_a_type_mismatch() -> None:
    current = pd.DataFrame({"age": [20.0, np.nan, 70.0]})
    report = check_quality(prepare_reference(REFERENCE), current)
    assert report.type_mismatches == ()
    assert report.column("age").out_of_range_share == pytest.approx(1 / 3)


def test_clean_window_has_zero_figures_and_reference_from_bytes_agrees() -> None:
    reference = prepare_reference(REFERENCE)
    restored = Reference.from_bytes(reference.to_bytes())
    report = check_quality(restored, pa.Table.from_pandas(REFERENCE, preserve_index=False))
    assert report == check_quality(reference, REFERENCE)
    figures = report.figures()
    assert figures["quality.missing_columns"] == 0.0
    assert figures["quality.out_of_range.age"] == 0.0
    assert figures["quality.unseen.region"] == 0.0
    assert json.loads(json.dumps(report.to_dict()))["rows"] == 8
