"""How columns are typed and tested, when they and the dataset count as drifted, and the options."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from shipyard.errors import InvalidInput
from shipyard.monitoring.drift import (
    METHODS,
    DriftOptions,
    Reference,
    detect_drift,
    distribution,
    prepare_reference,
)

RNG = np.random.default_rng(11)


def chosen(ref: pd.DataFrame, cur: pd.DataFrame, column: str = "x") -> tuple[str | None, str | None]:
    result = detect_drift(prepare_reference(ref), cur).column(column)
    return result.kind, result.method


@pytest.mark.parametrize(("n_ref", "method"), [(1000, "ks"), (1001, "wasserstein")])
def test_reference_size_boundary_switches_test_to_distance(n_ref: int, method: str) -> None:
    ref = pd.DataFrame({"x": RNG.normal(size=n_ref)})
    assert chosen(ref, pd.DataFrame({"x": RNG.normal(size=50)})) == ("numerical", method)


def test_reference_size_counts_values_left_after_dropping_nan() -> None:
    ref = pd.DataFrame({"x": np.append(RNG.normal(size=1000), [np.nan] * 500)})
    assert chosen(ref, pd.DataFrame({"x": RNG.normal(size=50)})) == ("numerical", "ks")


@pytest.mark.parametrize(
    ("distinct", "small", "large"),
    [
        (2, "z", "jensenshannon"),
        (3, "chisquare", "jensenshannon"),
        (5, "chisquare", "jensenshannon"),
        (6, "ks", "wasserstein"),
    ],
)
def test_numerical_method_follows_distinct_values_over_both_sides(
    distinct: int, small: str, large: str
) -> None:
    # Floats with distinct-1 values in the reference and one more only in the current window.
    values = np.arange(distinct - 1, dtype=float) / 2
    cur = pd.DataFrame({"x": np.append(RNG.choice(values, 99), distinct)})
    for n_ref, expected in ((1000, small), (1001, large)):
        ref = pd.DataFrame({"x": RNG.choice(values, n_ref)})
        assert chosen(ref, cur) == ("numerical", expected)


@pytest.mark.parametrize(("distinct", "kind"), [(10, "categorical"), (11, "numerical")])
def test_integers_with_at_most_10_current_values_are_categorical(distinct: int, kind: str) -> None:
    ref = pd.DataFrame({"x": RNG.integers(0, 30, 2000)})
    cur = pd.DataFrame({"x": np.arange(300) % distinct})
    assert chosen(ref, cur)[0] == kind


def test_strings_over_half_distinct_are_text_and_not_tested() -> None:
    ref = pd.DataFrame({"x": [f"id{i}" for i in range(300)]})
    result = detect_drift(prepare_reference(ref), pd.DataFrame({"x": [f"id{i}" for i in range(100)]}))
    column = result.column("x")
    assert (column.kind, column.tested) == ("text", False)
    assert column.reason is not None and "text" in column.reason
    assert result.tested == 0 and not result.drift


def test_ks_drifts_at_p_equal_to_threshold_chi_square_does_not() -> None:
    ref_num, cur_num = RNG.normal(size=300), RNG.normal(0.15, size=300)
    p_ks = stats.ks_2samp(ref_num, cur_num).pvalue
    ks = detect_drift(
        prepare_reference(pd.DataFrame({"x": ref_num})),
        pd.DataFrame({"x": cur_num}),
        DriftOptions(threshold=p_ks),
    ).column("x")
    assert ks.method == "ks" and ks.score == p_ks and ks.drifted

    ref_cat, cur_cat = RNG.choice(list("abc"), 300), RNG.choice(list("abc"), 300)
    first = detect_drift(prepare_reference(pd.DataFrame({"x": ref_cat})), pd.DataFrame({"x": cur_cat}))
    p_chi = first.column("x").score
    again = detect_drift(
        prepare_reference(pd.DataFrame({"x": ref_cat})),
        pd.DataFrame({"x": cur_cat}),
        DriftOptions(threshold=p_chi),
    ).column("x")
    assert again.method == "chisquare" and again.score == p_chi and not again.drifted


def test_distance_drifts_at_score_equal_to_threshold() -> None:
    ref, cur = pd.DataFrame({"x": RNG.normal(size=2000)}), pd.DataFrame({"x": RNG.normal(0.3, size=2000)})
    reference = prepare_reference(ref)
    distance = detect_drift(reference, cur).column("x").score
    assert distance is not None
    at = detect_drift(reference, cur, DriftOptions(threshold=distance)).column("x")
    above = detect_drift(reference, cur, DriftOptions(threshold=np.nextafter(distance, 1))).column("x")
    assert at.drifted and not above.drifted


def shifted_frame(n: int, drifted: int, total: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ref = pd.DataFrame({f"c{i}": RNG.normal(size=n) for i in range(total)})
    cur = pd.DataFrame({f"c{i}": RNG.normal(3.0 if i < drifted else 0.0, size=n) for i in range(total)})
    return ref, cur


@pytest.mark.parametrize(("drifted", "dataset"), [(1, False), (2, True), (3, True)])
def test_dataset_drifts_when_share_reaches_half(drifted: int, dataset: bool) -> None:
    ref, cur = shifted_frame(1500, drifted, 4)
    result = detect_drift(prepare_reference(ref), cur)
    assert (result.tested, result.drifted, result.share, result.drift) == (4, drifted, drifted / 4, dataset)


def test_drift_share_option_moves_the_dataset_rule() -> None:
    ref, cur = shifted_frame(1500, 2, 4)
    assert not detect_drift(prepare_reference(ref), cur, DriftOptions(drift_share=0.75)).drift


def test_per_column_method_and_threshold_win_over_global_ones() -> None:
    ref, cur = shifted_frame(1500, 0, 2)
    options = DriftOptions(
        method="psi", threshold=0.2, per_column_method={"c0": "ks"}, per_column_threshold={"c0": 0.01}
    )
    result = detect_drift(prepare_reference(ref), cur, options)
    assert (result.column("c0").method, result.column("c0").threshold) == ("ks", 0.01)
    assert (result.column("c1").method, result.column("c1").threshold) == ("psi", 0.2)


def test_method_default_threshold_applies_without_override() -> None:
    ref, cur = shifted_frame(1500, 0, 1)
    result = detect_drift(prepare_reference(ref), cur, DriftOptions(method="ks")).column("c0")
    assert result.threshold == METHODS["ks"].default_threshold == 0.05


def test_unknown_method_names_it_and_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as error:
        DriftOptions(per_column_method={"age": "energy"})
    assert "'energy'" in str(error.value)
    for name in METHODS:
        assert name in str(error.value)


@pytest.mark.parametrize(
    "options",
    [
        {"threshold": -0.1},
        {"threshold": float("nan")},
        {"per_column_threshold": {"a": "high"}},
        {"drift_share": 0.0},
        {"drift_share": 1.5},
        {"method": "Wasserstein"},
    ],
)
def test_bad_options_are_invalid_input(options: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        DriftOptions(**options)  # type: ignore[arg-type]


def test_method_not_for_the_column_kind_is_invalid_input() -> None:
    ref = pd.DataFrame({"x": RNG.choice(list("abc"), 200)})
    with pytest.raises(InvalidInput, match=r"'wasserstein'.*'x' is categorical"):
        detect_drift(prepare_reference(ref), ref, DriftOptions(method="wasserstein"))


def test_missing_current_column_is_not_tested_and_left_out_of_the_share() -> None:
    ref, cur = shifted_frame(1500, 1, 2)
    result = detect_drift(prepare_reference(ref), cur.drop(columns=["c1"]))
    missing = result.column("c1")
    assert (missing.tested, missing.reason) == (False, "missing from the current data")
    assert (result.tested, result.drifted, result.share, result.drift) == (1, 1, 1.0, True)


def test_unknown_column_asked_for_is_invalid_input() -> None:
    ref, cur = shifted_frame(100, 0, 1)
    with pytest.raises(InvalidInput, match="'nope'"):
        detect_drift(prepare_reference(ref), cur, columns=["nope"])


def test_column_changing_type_is_not_tested() -> None:
    ref = pd.DataFrame({"x": RNG.normal(size=100)})
    result = detect_drift(prepare_reference(ref), pd.DataFrame({"x": list("ab") * 50})).column("x")
    assert not result.tested and result.reason is not None and "type changed" in result.reason


def test_column_empty_after_cleaning_is_not_tested() -> None:
    ref = pd.DataFrame({"x": RNG.normal(size=100)})
    result = detect_drift(prepare_reference(ref), pd.DataFrame({"x": [np.nan, np.inf]})).column("x")
    assert not result.tested and result.reason is not None and "no values" in result.reason


def mixed(n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": np.where(RNG.random(n) < 0.05, np.nan, RNG.lognormal(shift, 1, n)),
            "plan": RNG.choice(["basic", "pro", "team"], n),
            "seats": RNG.integers(1, 6, n),
            "age": RNG.integers(18, 90, n),
            "active": RNG.random(n) < 0.5 + shift / 4,
        }
    )


def test_prepared_reference_round_trips_through_bytes() -> None:
    ref, cur = mixed(3000, 0.0), mixed(2000, 0.5)
    prepared = prepare_reference(ref)
    restored = Reference.from_bytes(prepared.to_bytes())
    assert (restored.columns, restored.rows) == (prepared.columns, 3000)
    assert detect_drift(restored, cur) == detect_drift(prepare_reference(ref), cur)
    assert detect_drift(restored, cur, DriftOptions(method="psi")) == detect_drift(
        prepared, cur, DriftOptions(method="psi")
    )


def test_arrow_and_pandas_inputs_give_the_same_result() -> None:
    ref, cur = mixed(1500, 0.0), mixed(1000, 0.3)
    from_pandas = detect_drift(prepare_reference(ref), cur)
    from_arrow = detect_drift(
        prepare_reference(pa.Table.from_pandas(ref, preserve_index=False)),
        pa.Table.from_pandas(cur, preserve_index=False),
    )
    assert from_arrow == from_pandas
    assert [c.method for c in from_arrow.columns] == [
        "wasserstein",
        "jensenshannon",
        "jensenshannon",
        "wasserstein",
        "jensenshannon",
    ]


def test_garbage_bytes_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="reference"):
        Reference.from_bytes(b"not arrow at all")


def test_result_serialises_to_plain_json_types() -> None:
    import json

    result = detect_drift(prepare_reference(mixed(1500, 0.0)), mixed(500, 1.0))
    encoded = json.loads(json.dumps(result.to_dict()))
    assert encoded["share"] == result.share and len(encoded["columns"]) == 5
    figures = result.figures()
    assert figures["drift.share"] == result.share
    assert figures["drift.score.amount"] == result.column("amount").score


def test_distribution_gives_each_side_shares_for_a_histogram() -> None:
    ref, cur = mixed(2000, 0.0), mixed(1000, 0.8)
    reference = prepare_reference(ref)
    numbers = distribution(reference, cur, "amount", bins=10)
    assert numbers.edges is not None and len(numbers.edges) == 11
    amounts = cur["amount"].dropna().to_numpy()
    expected = np.histogram(amounts, np.array(numbers.edges))[0] / amounts.size
    assert numbers.current == pytest.approx(tuple(expected))
    assert sum(numbers.reference) == pytest.approx(1.0)

    plans = distribution(reference, cur, "plan")
    assert plans.categories is not None and set(plans.categories) == {"basic", "pro", "team"}
    share_pro = float(np.mean(cur["plan"] == "pro"))
    assert plans.current[plans.categories.index("pro")] == pytest.approx(share_pro)
    with pytest.raises(InvalidInput):
        distribution(reference, cur, "amount", bins=0)
