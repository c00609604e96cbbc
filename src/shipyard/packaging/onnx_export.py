"""Export a scikit-learn model to ONNX, and prove the export predicts what the model predicts.

skl2onnx converts the model (pipelines with a ColumnTransformer get one graph input per signature
column, so string columns stay strings; other models get one float matrix). onnxruntime then
scores the package's input example and any held-out frame; the largest absolute difference with
the original model (class probabilities for classifiers, predictions otherwise) must stay within
``tolerance`` (absolute for probabilities; relative to the value above 1 for regression outputs).
ONNX computes in float32, so differences around 1e-6 are normal; 1e-4 is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.errors import Conflict, InvalidInput
from shipyard.packaging.package import LoadedModel, build_package, load_model
from shipyard.packaging.signature import FLOAT_TYPES, INTEGER_TYPES, ColumnSpec

DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ParityReport:
    """How closely the ONNX export matched the original model on one dataset."""

    rows: int
    max_abs_diff: float
    tolerance: float
    passed: bool
    dataset: str  # "input_example" or "heldout"

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "dataset": self.dataset,
        }


def export_onnx(
    loaded: LoadedModel, *, heldout: pd.DataFrame | None = None, tolerance: float = DEFAULT_TOLERANCE
) -> tuple[bytes, list[ParityReport]]:
    """Convert a loaded scikit-learn model to ONNX and check parity on its input example and on
    ``heldout``.

    Returns a Shipyard model package (flavor ``onnx``, same signature and input example; the raw
    ``.onnx`` file is ``packaging.payload_entries(package)["model.onnx"]``) and one report per
    dataset. Raises InvalidInput if the model cannot be converted, Conflict naming the largest
    difference if parity fails.
    """
    if loaded.flavor != "sklearn":
        raise InvalidInput(
            f"ONNX export converts scikit-learn models; this model's flavor is {loaded.flavor!r}",
            field="flavor",
        )
    if not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise InvalidInput(f"tolerance must be a number >= 0, got {tolerance!r}", field="tolerance")
    example = loaded.manifest.example_frame()
    onnx_model = _convert(loaded)
    package, _ = build_package(
        onnx_model, input_example=example, flavor="onnx", created_at_ms=loaded.manifest.created_at_ms
    )
    exported = load_model(package, trust_pickle=False)
    datasets = [("input_example", example)]
    if heldout is not None:
        if not isinstance(heldout, pd.DataFrame) or heldout.empty:
            raise InvalidInput("heldout must be a non-empty pandas DataFrame", field="heldout")
        datasets.append(("heldout", heldout))
    reports = [_compare(loaded, exported, frame, name, float(tolerance)) for name, frame in datasets]
    failed = [r for r in reports if not r.passed]
    if failed:
        worst = max(failed, key=lambda r: r.max_abs_diff)
        raise Conflict(
            f"the ONNX export does not match the model on {worst.dataset} ({worst.rows} rows): "
            f"max absolute difference {worst.max_abs_diff:.3g} exceeds the tolerance {worst.tolerance:g}",
            field="tolerance",
        )
    return package, reports


def _convert(loaded: LoadedModel) -> object:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    model = loaded.raw
    columns = loaded.signature.inputs
    initial_types: list[tuple[str, object]]
    if _takes_named_columns(model):
        initial_types = []
        for column in columns:
            if column.dtype in ("string", "category"):
                initial_types.append((column.name, StringTensorType([None, 1])))
            elif column.dtype in FLOAT_TYPES | INTEGER_TYPES | {"bool"}:
                # Integers too: skl2onnx's imputers and scalers want float inputs, and whole
                # numbers below 2**24 are exact in float32.
                initial_types.append((column.name, FloatTensorType([None, 1])))
            else:
                raise _unsupported(column)
    else:
        for column in columns:
            if column.dtype not in FLOAT_TYPES | INTEGER_TYPES | {"bool"}:
                raise _unsupported(column)
        initial_types = [("input", FloatTensorType([None, len(columns)]))]
    options = {id(_final_step(model)): {"zipmap": False}} if hasattr(model, "predict_proba") else None
    try:
        return to_onnx(model, initial_types=initial_types, options=options)
    except Exception as exc:  # skl2onnx raises RuntimeError, NotImplementedError, MissingShapeCalculator...
        raise InvalidInput(
            f"cannot convert {type(model).__qualname__} to ONNX: {type(exc).__name__}: {exc}", field="model"
        ) from exc


def _takes_named_columns(model: object) -> bool:
    """A ColumnTransformer (alone or first in a pipeline) selects columns by name."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    first = model.steps[0][1] if isinstance(model, Pipeline) else model
    return isinstance(first, ColumnTransformer)


def _final_step(model: object) -> object:
    from sklearn.pipeline import Pipeline

    return _final_step(model.steps[-1][1]) if isinstance(model, Pipeline) else model


def _unsupported(column: ColumnSpec) -> InvalidInput:
    return InvalidInput(
        f"column {column.name!r} has type {column.dtype}, which the ONNX export does not support "
        "(numbers, booleans and strings; strings only through a ColumnTransformer)",
        field=f"inputs.{column.name}",
    )


def _compare(
    original: LoadedModel, exported: LoadedModel, frame: pd.DataFrame, name: str, tolerance: float
) -> ParityReport:
    expected = original.predict_proba(frame)
    proba = expected is not None
    if proba:
        actual = exported.predict_proba(frame)
    else:
        expected, actual = original.predict(frame), exported.predict(frame)
    expected_values = np.asarray(expected, dtype=np.float64)
    actual_values = np.asarray(actual, dtype=np.float64) if actual is not None else None
    if actual_values is None or actual_values.shape != expected_values.shape:
        shape = None if actual_values is None else actual_values.shape
        raise Conflict(
            f"the ONNX export returns outputs of shape {shape} on {name}; the model returns {expected_values.shape}",
            field="model",
        )
    if not expected_values.size:
        return ParityReport(rows=0, max_abs_diff=0.0, tolerance=tolerance, passed=True, dataset=name)
    gaps = np.abs(expected_values - actual_values)
    # Probabilities are compared absolutely; regression outputs relative to their size above 1,
    # since float32 cannot hold 1e5 to within 1e-4.
    allowed = tolerance if proba else tolerance * np.maximum(1.0, np.abs(expected_values))
    passed = bool(np.all(gaps <= allowed))  # NaN fails
    diff = float(np.max(gaps))
    return ParityReport(rows=len(frame), max_abs_diff=diff, tolerance=tolerance, passed=passed, dataset=name)
