"""Data drift of a 1,000,000-row window x 20 columns against a prepared reference of 1,000,000 rows
(distance methods), target < 3 s; and the same window against a 500-row reference (statistical
tests).

The columns mix what a churn model sees: floats (some with NaN, some shifted), integers with many
values, low-cardinality integer codes, strings and a boolean. With ``.venv-evidently`` present
(``make bench-evidently``), Evidently 0.7.23's ``DataDriftPreset`` runs on the same Parquet files
and every column's method, value (to within 1e-6) and decision are compared with ours, with the
speed ratio (target >= 20x). Data is generated once into ``$TMPDIR/shipyard-bench-drift``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common import Result, anchor_figures
from shipyard.monitoring.drift import DatasetDrift, Reference, detect_drift, prepare_reference

CACHE = Path(tempfile.gettempdir()) / "shipyard-bench-drift"
EVIDENTLY_PYTHON = Path(__file__).resolve().parent.parent / ".venv-evidently" / "bin" / "python"
ROWS = 1_000_000
SMALL = 500
TOLERANCE = 1e-6


def frame(rng: np.random.Generator, n: int, drift: bool) -> pd.DataFrame:
    """20 columns; with ``drift`` about half of them move."""
    s = 1.0 if drift else 0.0

    def with_nan(values: np.ndarray, share: float) -> np.ndarray:
        return np.where(rng.random(n) < share, np.nan, values)

    plans = ["basic", "pro", "team", "enterprise"]
    regions = [f"r{i:02d}" for i in range(12)]
    return pd.DataFrame(
        {
            "monthly_spend": rng.lognormal(3.0 + 0.15 * s, 0.8, n),
            "sessions_7d": with_nan(rng.gamma(2.0, 3.0, n), 0.02),
            "avg_session_min": rng.normal(12.0, 4.0, n),
            "latency_ms": rng.normal(120.0 + 8.0 * s, 30.0, n),
            "discount": rng.choice(
                [0.0, 0.1, 0.2, 0.3], n, p=[0.6, 0.2, 0.15, 0.05] if not drift else [0.4, 0.3, 0.2, 0.1]
            ),
            "income": with_nan(rng.normal(55_000.0, 15_000.0, n), 0.1 + 0.1 * s),
            "support_score": rng.beta(2.0, 5.0, n),
            "cart_value": with_nan(rng.exponential(40.0 * (1 + 0.3 * s), n), 0.01),
            "age": rng.integers(18, 80, n),
            "tenure_months": rng.integers(0, 120 - int(40 * s), n),
            "pages_viewed": rng.poisson(8.0, n),
            "seats": rng.integers(1, 6, n),
            "rating": rng.choice([1, 2, 3, 4, 5], n, p=[0.05, 0.1, 0.2, 0.35, 0.3]),
            "has_coupon": rng.integers(0, 2, n),
            "tickets_30d": rng.choice(np.arange(8), n),
            "plan": rng.choice(plans, n, p=[0.5, 0.3, 0.15, 0.05] if not drift else [0.35, 0.35, 0.2, 0.1]),
            "region": rng.choice(regions + (["r99"] if drift else []), n),
            "device": rng.choice(["ios", "android", "web"], n),
            "channel": rng.choice(["ads", "organic", "referral", "email", "partner"], n),
            "autopay": rng.random(n) < (0.6 if not drift else 0.45),
        }
    )


def files() -> tuple[Path, Path, Path]:
    reference, small, current = (
        CACHE / "reference.parquet",
        CACHE / "reference_500.parquet",
        CACHE / "current.parquet",
    )
    if not (reference.exists() and small.exists() and current.exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(2024)
        ref = frame(rng, ROWS, drift=False)
        ref.to_parquet(reference, index=False)
        ref.iloc[:SMALL].to_parquet(small, index=False)
        frame(rng, ROWS, drift=True).to_parquet(current, index=False)
    return reference, small, current


def ours(
    reference_path: Path, current: pd.DataFrame, repeat: int = 3
) -> tuple[DatasetDrift, float, float, float]:
    """(result, seconds to prepare the reference, median wall and CPU seconds to detect)."""
    training = pd.read_parquet(reference_path)
    started = time.perf_counter()
    prepared = Reference.from_bytes(prepare_reference(training).to_bytes())
    prepare = time.perf_counter() - started
    runs = []
    for _ in range(repeat):
        cpu, started = time.process_time(), time.perf_counter()
        result = detect_drift(prepared, current)
        runs.append((time.perf_counter() - started, time.process_time() - cpu))
    wall, cpu = sorted(runs)[len(runs) // 2]
    return result, prepare, wall, cpu


def evidently(reference_path: Path, current_path: Path) -> dict[str, Any] | None:
    if not EVIDENTLY_PYTHON.exists():
        return None
    return anchor_figures(EVIDENTLY_PYTHON, "evidently_drift.py", reference_path, current_path)


def compare(result: DatasetDrift, theirs: dict[str, Any]) -> tuple[float, int, list[str]]:
    """(largest value difference, columns whose method or decision differ, their names)."""
    worst, differing = 0.0, []
    for column in result.columns:
        other = theirs["columns"].get(column.column)
        if other is None or not column.tested or column.score is None:
            differing.append(column.column)
            continue
        gap = abs(column.score - other["value"])
        worst = max(worst, gap / max(1.0, abs(other["value"])))
        if (
            column.method != other["method"]
            or column.drifted != other["drifted"]
            or gap > TOLERANCE * max(1.0, abs(other["value"]))
        ):
            differing.append(column.column)
    return worst, len(differing), differing


def run() -> list[Result]:
    reference, small, current_path = files()
    current = pd.read_parquet(current_path)
    out: list[Result] = []
    for label, path in ((f"{ROWS:,}-row", reference), (f"{SMALL}-row", small)):
        result, prepare, detect, cpu = ours(path, current)
        note = (
            f"CPU {cpu:.2f} s (all threads); {result.drifted}/{result.tested} columns drifted, dataset drift {result.drift}; "
            f"methods {sorted({c.method for c in result.columns if c.method})}"
        )
        name = f"drift: 1,000,000 rows x 20 columns vs a {label} reference"
        out.append(Result(f"{name} (detect)", detect, "s", target=3.0, note=note))
        out.append(
            Result(
                f"{name} (prepare reference)",
                prepare,
                "s",
                note="once per reference; bytes round trip included",
            )
        )
        theirs = evidently(path, current_path)
        if theirs is None:
            continue
        worst, differing, names = compare(result, theirs)
        out.append(
            Result(
                f"{name}: Evidently 0.7.23",
                theirs["seconds"],
                "s",
                note=f"DataDriftPreset, same files; CPU {theirs['cpu']:.1f} s",
            )
        )
        out.append(
            Result(
                f"{name}: Evidently / Shipyard",
                theirs["seconds"] / detect,
                "x",
                target=20.0,
                higher=True,
                note=f"CPU time ratio {theirs['cpu'] / cpu:.0f}x",
            )
        )
        out.append(
            Result(
                f"{name}: columns differing from Evidently (method, decision or value > 1e-6)",
                float(differing),
                "cols",
                target=0.0,
                note=f"largest relative value gap {worst:.1e}; dataset share {result.share:.3f} vs "
                f"{theirs['dataset'].get('share')}" + (f"; differing: {', '.join(names)}" if names else ""),
            )
        )
    return out


if __name__ == "__main__":
    for r in run():
        print(r)
