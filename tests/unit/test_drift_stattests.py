"""Each drift statistic against SciPy/NumPy computed directly on the raw arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from shipyard.monitoring.drift import DriftOptions, detect_drift, prepare_reference

RNG = np.random.default_rng(7)


def score(ref: pd.DataFrame, cur: pd.DataFrame, method: str, column: str = "x") -> float:
    result = detect_drift(prepare_reference(ref), cur, DriftOptions(method=method)).column(column)
    assert result.tested and result.method == method
    assert result.score is not None
    return result.score


def shares_per_value(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    p = np.array([np.sum(ref == k) for k in keys]) / ref.size
    q = np.array([np.sum(cur == k) for k in keys]) / cur.size
    return p, q


def sturges_shares(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), "sturges")
    return np.histogram(ref, edges)[0] / ref.size, np.histogram(cur, edges)[0] / cur.size


def evidently_epsilon(p: np.ndarray) -> np.ndarray:
    smallest = p[p != 0].min()
    return np.where(p == 0, smallest / 1e6 if smallest <= 1e-4 else 1e-4, p)


@pytest.mark.parametrize(("n_ref", "n_cur", "shift"), [(1500, 900, 0.0), (3000, 2000, 0.4)])
def test_wasserstein_is_scipy_over_reference_population_std(n_ref: int, n_cur: int, shift: float) -> None:
    ref, cur = RNG.normal(size=n_ref), RNG.normal(shift, 1.5, size=n_cur)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref, ddof=0)
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "wasserstein") == pytest.approx(
        expected, rel=1e-12
    )


def test_wasserstein_floors_the_std_at_0_001() -> None:
    ref = np.full(2000, 3.0)
    cur = np.concatenate([np.full(1000, 3.0), np.full(1000, 3.5)])
    expected = stats.wasserstein_distance(ref, cur) / 0.001
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "wasserstein") == pytest.approx(expected)


def test_wasserstein_with_ties_matches_scipy() -> None:
    ref, cur = RNG.integers(0, 30, 2500).astype(float), RNG.integers(3, 33, 1700).astype(float)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "wasserstein") == pytest.approx(
        expected, rel=1e-12
    )


def test_ks_is_scipy_two_sided_p_value() -> None:
    ref, cur = RNG.normal(size=400), RNG.normal(0.2, size=700)
    expected = stats.ks_2samp(ref, cur).pvalue
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "ks") == pytest.approx(
        expected, rel=1e-12
    )


def test_jensen_shannon_on_many_valued_numbers_uses_sturges_bins_over_both_sides() -> None:
    ref, cur = RNG.normal(size=3000), RNG.normal(0.3, size=2000)
    p, q = sturges_shares(ref, cur)
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "jensenshannon") == pytest.approx(
        jensenshannon(p, q), rel=1e-12
    )


def test_jensen_shannon_on_categories_is_natural_log_distance_without_epsilon() -> None:
    ref = RNG.choice(["a", "b", "c"], 2000, p=[0.5, 0.3, 0.2])
    cur = RNG.choice(["a", "b", "c", "d"], 1500, p=[0.3, 0.3, 0.2, 0.2])
    p, q = shares_per_value(ref, cur)
    got = score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "jensenshannon")
    assert got == pytest.approx(jensenshannon(p, q), rel=1e-12)
    assert got <= np.sqrt(np.log(2))


def test_jensen_shannon_on_numbers_with_few_values_uses_one_bin_per_value() -> None:
    ref, cur = RNG.integers(0, 15, 2000).astype(float), RNG.integers(0, 18, 1000).astype(float)
    p, q = shares_per_value(ref, cur)
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "jensenshannon") == pytest.approx(
        jensenshannon(p, q), rel=1e-12
    )


def test_psi_with_evidently_epsilon_for_empty_bins() -> None:
    ref = RNG.choice(["a", "b", "c"], 2000)
    cur = RNG.choice(["a", "b", "d"], 1000)
    p, q = shares_per_value(ref, cur)
    p, q = evidently_epsilon(p), evidently_epsilon(q)
    expected = float(np.sum((p - q) * np.log(p / q)))
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "psi") == pytest.approx(
        expected, rel=1e-12
    )


def test_psi_on_numbers_bins_like_numpy_histogram() -> None:
    ref, cur = RNG.exponential(size=5000), RNG.exponential(1.3, size=4000)
    p, q = sturges_shares(ref, cur)
    p, q = evidently_epsilon(p), evidently_epsilon(q)
    expected = float(np.sum((p - q) * np.log(p / q)))
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "psi") == pytest.approx(
        expected, rel=1e-12
    )


def test_chi_square_is_goodness_of_fit_against_scaled_reference() -> None:
    ref = RNG.choice(["a", "b", "c", "d"], 600, p=[0.4, 0.3, 0.2, 0.1])
    cur = RNG.choice(["a", "b", "c", "d"], 300, p=[0.35, 0.3, 0.2, 0.15])
    p, q = shares_per_value(ref, cur)
    expected = stats.chisquare(q * cur.size, p * ref.size * (cur.size / ref.size)).pvalue
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "chisquare") == pytest.approx(
        expected, rel=1e-9
    )


def test_unseen_category_gives_chi_square_p_zero_and_drift() -> None:
    ref = pd.DataFrame({"x": RNG.choice(["a", "b", "c"], 500)})
    cur = pd.DataFrame({"x": np.append(RNG.choice(["a", "b", "c"], 499), "new")})
    result = detect_drift(prepare_reference(ref), cur).column("x")
    assert result.method == "chisquare"
    assert result.score == 0.0
    assert result.drifted


def test_z_test_matches_the_two_proportion_formula() -> None:
    ref, cur = RNG.choice(["no", "yes"], 800, p=[0.7, 0.3]), RNG.choice(["no", "yes"], 500, p=[0.6, 0.4])
    p1, p2 = np.mean(ref == "yes"), np.mean(cur == "yes")
    pooled = (p1 * ref.size + p2 * cur.size) / (ref.size + cur.size)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / ref.size + 1 / cur.size))
    expected = 2 * stats.norm.sf(abs(z))
    result = detect_drift(prepare_reference(pd.DataFrame({"x": ref})), pd.DataFrame({"x": cur})).column("x")
    assert result.method == "z"
    assert result.score == pytest.approx(expected, rel=1e-9)


def test_z_test_of_one_identical_value_is_p_one() -> None:
    result = detect_drift(
        prepare_reference(pd.DataFrame({"x": ["a"] * 100})), pd.DataFrame({"x": ["a"] * 50})
    ).column("x")
    assert (result.method, result.score, result.drifted) == ("z", 1.0, False)


def test_nan_and_inf_are_dropped_from_each_side_before_testing() -> None:
    ref, cur = RNG.normal(size=1500), RNG.normal(0.1, size=1200)
    dirty_ref = np.concatenate([ref, [np.nan] * 40, [np.inf, -np.inf]])
    dirty_cur = np.concatenate([cur, [np.nan] * 300, [np.inf] * 7])
    result = detect_drift(
        prepare_reference(pd.DataFrame({"x": dirty_ref})), pd.DataFrame({"x": dirty_cur})
    ).column("x")
    assert (result.reference_count, result.current_count) == (1500, 1200)
    assert result.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-12)


def test_wasserstein_with_few_distinct_values_on_one_side_only_matches_scipy() -> None:
    ref, cur = RNG.integers(0, 5, 3000).astype(float), RNG.normal(2.0, 1.0, 1200)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "wasserstein") == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        (RNG.normal(size=800), RNG.normal(0.05, size=25_000)),
        (RNG.integers(0, 40, 900).astype(float), RNG.integers(2, 45, 30_000).astype(float)),
        (RNG.normal(size=12_000), RNG.normal(size=300)),
        (RNG.normal(size=700), RNG.normal(9.0, size=20_000)),
    ],
)
def test_ks_on_a_large_window_is_scipy_asymptotic_p_value(ref: np.ndarray, cur: np.ndarray) -> None:
    expected = stats.ks_2samp(ref, cur).pvalue
    assert score(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), "ks") == pytest.approx(
        expected, rel=1e-9, abs=1e-300
    )
