"""The drift statistics, computed from two column summaries (see ``columns.py``).

Each follows Evidently 0.7's definition exactly, so a user moving over sees the same values:
Wasserstein normalised by the reference's population std (floored at 0.001); Jensen-Shannon as
SciPy's natural-log distance without epsilon; PSI with Evidently's epsilon for empty bins; KS
p-value (two-sided, SciPy's automatic method); chi-square goodness of fit of the current counts
against the reference counts scaled to the current size (a category the reference never saw gives
p = 0); a two-proportion Z-test. Numeric bins are Sturges edges over reference and current
combined when the reference has more than 20 distinct values, otherwise one bin per value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon as _scipy_js

from shipyard.monitoring.drift.columns import ColumnSummary, Counts, Floats

Kind = Literal["numerical", "categorical", "text"]
#: SciPy's ``ks_2samp`` computes the exact p-value up to this many values on the larger side.
_KS_EXACT_LIMIT = 10_000
Direction = Literal["p<=", "p<", ">="]


@dataclass(frozen=True)
class Method:
    """A drift method: its default threshold, which side of it is drift, and the column kinds it
    applies to."""

    name: str
    default_threshold: float
    direction: Direction
    kinds: frozenset[str]
    compute: Callable[[ColumnSummary, ColumnSummary, Kind], float]
    description: str

    def drifted(self, score: float, threshold: float) -> bool:
        if self.direction == "p<=":
            return bool(score <= threshold)
        if self.direction == "p<":
            return bool(score < threshold)
        return bool(score >= threshold)


def sturges_edges(low: float, high: float, n: int) -> Floats:
    """``np.histogram_bin_edges(data, "sturges")`` for data of size ``n`` spanning [low, high],
    without holding the data."""
    if low == high:
        low, high = low - 0.5, high + 0.5
        bins = 1
    else:
        width = (high - low) / (np.log2(n) + 1.0)
        bins = int(np.ceil((high - low) / width)) if width else 1
    return np.linspace(low, high, bins + 1, endpoint=True, dtype=np.float64)


def histogram(sorted_values: Floats, edges: Floats) -> Counts:
    """``np.histogram(values, edges)[0]`` by binary search in already sorted values: each bin is
    [left, right) and the last one is closed."""
    left = np.searchsorted(sorted_values, edges[:-1], side="left")
    right = np.searchsorted(sorted_values, edges[1:], side="left")
    right[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return (right - left).astype(np.int64)


def category_counts(ref: ColumnSummary, cur: ColumnSummary) -> tuple[Counts, Counts, np.ndarray]:
    """Counts of each side over the union of both sides' distinct values (one bin per value)."""
    if ref.values is not None and cur.values is not None:
        ref_keys, ref_counts = ref.numeric_uniques()
        cur_keys, cur_counts = cur.numeric_uniques()
        keys = np.union1d(ref_keys, cur_keys)
        return _spread(keys, ref_keys, ref_counts), _spread(keys, cur_keys, cur_counts), keys
    assert ref.categories is not None and ref.counts is not None
    assert cur.categories is not None and cur.counts is not None
    ref_index = pd.Index(ref.categories, dtype=object)
    extra = cur.categories[ref_index.get_indexer(cur.categories) < 0]
    keys = np.concatenate((ref.categories, extra))
    union = pd.Index(keys, dtype=object)
    return (
        _place(union.get_indexer(ref.categories), ref.counts, keys.size),
        _place(union.get_indexer(cur.categories), cur.counts, keys.size),
        keys,
    )


def binned_shares(ref: ColumnSummary, cur: ColumnSummary, kind: Kind) -> tuple[Floats, Floats]:
    """Evidently's ``get_binned_data`` without the epsilon: the share of each side per bin."""
    if kind == "numerical" and ref.values is not None and cur.values is not None and ref.n_unique > 20:
        edges = sturges_edges(
            min(ref.values[0], cur.values[0]),
            max(ref.values[-1], cur.values[-1]),
            ref.values.size + cur.values.size,
        )
        ref_counts, cur_counts = histogram(ref.values, edges), histogram(cur.values, edges)
    else:
        ref_counts, cur_counts, _ = category_counts(ref, cur)
    return ref_counts / ref.count, cur_counts / cur.count


def wasserstein(ref: ColumnSummary, cur: ColumnSummary, kind: Kind) -> float:
    """Normed Wasserstein: the 1-D earth mover's distance, ∫|F_ref - F_cur|, over the reference's
    population std. Merging the two sorted arrays gives both empirical CDFs by a running count (tied
    points sit 0 apart, so only the last of a tie, which has counted them all, adds area)."""
    u, v = _sorted(ref), _sorted(cur)
    norm = max(float(np.std(u)), 0.001)
    if ref.n_unique * 4 <= u.size and cur.n_unique * 4 <= v.size:
        # Many ties (integers, rounded values): the CDFs step only at the distinct values.
        ref_keys, ref_counts = ref.numeric_uniques()
        cur_keys, cur_counts = cur.numeric_uniques()
        keys = np.union1d(ref_keys, cur_keys)
        u_cdf = np.cumsum(_spread(keys, ref_keys, ref_counts))[:-1] / u.size
        v_cdf = np.cumsum(_spread(keys, cur_keys, cur_counts))[:-1] / v.size
        return float((np.abs(u_cdf - v_cdf) * np.diff(keys)).sum()) / norm
    merged = np.concatenate((u, v))
    order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
    gaps = np.diff(merged[order])
    # n_u·n_v·(F_u - F_v) at each merged point, in exact integers: u_seen·(n_u+n_v) - i·n_u.
    spread = np.cumsum(order[:-1] < u.size, dtype=np.int64)
    spread *= u.size + v.size
    spread -= np.arange(1, merged.size, dtype=np.int64) * u.size
    np.abs(spread, out=spread)
    # A plain multiply-and-sum, not np.dot: BLAS's threads cost more than they save on 10^4 values
    # and fight the per-column threads for the cores.
    distance = float((spread.astype(np.float64) * gaps).sum()) / (u.size * v.size)
    return distance / norm


def jensen_shannon(ref: ColumnSummary, cur: ColumnSummary, kind: Kind) -> float:
    p, q = binned_shares(ref, cur, kind)
    return float(_scipy_js(p, q))


def psi(ref: ColumnSummary, cur: ColumnSummary, kind: Kind) -> float:
    p, q = binned_shares(ref, cur, kind)
    p, q = _fill_zeroes(p), _fill_zeroes(q)
    return float(np.sum((p - q) * np.log(p / q)))


def ks(ref: ColumnSummary, cur: ColumnSummary, kind: Kind) -> float:
    """SciPy's ``ks_2samp`` p-value. Above 10,000 values on a side SciPy uses the asymptotic
    distribution; the statistic is then read at the reference's distinct values by binary search
    in the current values, instead of SciPy's search of every value of both sides."""
    u, v = _sorted(ref), _sorted(cur)
    if max(u.size, v.size) <= _KS_EXACT_LIMIT:
        return float(stats.ks_2samp(u, v)[1])
    keys, counts = ref.numeric_uniques()
    # |F_ref - F_cur| peaks either at a reference value or at the last current value below one
    # (F_ref is flat between reference values, F_cur only grows).
    ref_at = np.cumsum(counts) / u.size
    ref_below = np.concatenate(([0.0], ref_at[:-1]))
    cur_at = np.searchsorted(v, keys, side="right") / v.size
    cur_below = np.searchsorted(v, keys, side="left") / v.size
    d = max(float(np.max(np.abs(ref_at - cur_at))), float(np.max(np.abs(ref_below - cur_below))))
    m, n = sorted((float(u.size), float(v.size)), reverse=True)
    return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def chi_square(ref: ColumnSummary, cur: ColumnSummary, kind: Kind) -> float:
    ref_counts, cur_counts, _ = category_counts(ref, cur)
    if np.any(ref_counts[cur_counts > 0] == 0):
        return 0.0  # a value the reference never had: infinite statistic
    expected = ref_counts * (cur.count / ref.count)
    return float(stats.chisquare(cur_counts, expected)[1])


def z_test(ref: ColumnSummary, cur: ColumnSummary, kind: Kind) -> float:
    ref_counts, cur_counts, keys = category_counts(ref, cur)
    if ref_counts.size == 1:
        return 1.0  # both sides hold one and the same value
    n1, n2 = ref.count, cur.count
    # The first of the sorted values is 0, any other 1 (with two values the test is symmetric).
    first = _first_key(keys)
    p1 = 1.0 - ref_counts[first] / n1
    p2 = 1.0 - cur_counts[first] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def _first_key(keys: np.ndarray) -> int:
    return int(np.argmin(keys)) if keys.dtype != object else int(np.argsort(keys.astype(str))[0])


def _spread(keys: Floats, present: Floats, counts: Counts) -> Counts:
    out = np.zeros(keys.size, dtype=np.int64)
    out[np.searchsorted(keys, present)] = counts
    return out


def _place(positions: np.ndarray, counts: Counts, size: int) -> Counts:
    out = np.zeros(size, dtype=np.int64)
    out[positions] = counts
    return out


def _sorted(summary: ColumnSummary) -> Floats:
    assert summary.values is not None
    return summary.values


def _fill_zeroes(shares: Floats) -> Floats:
    nonzero = shares[shares != 0]
    smallest = float(nonzero.min()) if nonzero.size else 0.0
    out = shares.copy()
    out[out == 0] = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return out


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "wasserstein",
            0.1,
            ">=",
            frozenset({"numerical"}),
            wasserstein,
            "Wasserstein distance normed by the reference's std",
        ),
        Method(
            "jensenshannon",
            0.1,
            ">=",
            frozenset({"numerical", "categorical"}),
            jensen_shannon,
            "Jensen-Shannon distance (natural log)",
        ),
        Method("psi", 0.1, ">=", frozenset({"numerical", "categorical"}), psi, "population stability index"),
        Method("ks", 0.05, "p<=", frozenset({"numerical"}), ks, "Kolmogorov-Smirnov two-sample test p-value"),
        Method(
            "chisquare",
            0.05,
            "p<",
            frozenset({"categorical"}),
            chi_square,
            "chi-square goodness of fit against the reference p-value",
        ),
        Method("z", 0.05, "p<", frozenset({"categorical"}), z_test, "two-proportion Z-test p-value"),
    )
}
