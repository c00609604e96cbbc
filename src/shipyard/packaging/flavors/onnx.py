"""ONNX models, run with onnxruntime.

A graph with a single input gets the whole frame (the signature's columns, in order) as one
matrix; a graph with several inputs gets one ``[None, 1]`` tensor per signature column of the same
name (what skl2onnx makes of a pipeline with a ColumnTransformer). The first output is the prediction; a second output, if
any, is taken as class probabilities (a tensor, or skl2onnx's ZipMap list of dicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.packaging.flavors.base import Payload, Predictor, from_library, version_of

ENTRY = "model.onnx"
_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.str_,
}


@dataclass(frozen=True)
class OnnxPredictor:
    raw: object  # onnxruntime.InferenceSession

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        prediction = np.asarray(self._run(frame)[0])
        if prediction.ndim == 2 and prediction.shape[1] == 1:
            prediction = prediction.ravel()
        return prediction

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        outputs = self._run(frame)
        if len(outputs) < 2:
            return None
        proba = outputs[1]
        if isinstance(proba, list):  # ZipMap: one {label: probability} per row
            table: np.ndarray = pd.DataFrame.from_records(proba).to_numpy(dtype=np.float64)
            return table
        return np.asarray(proba)

    def _run(self, frame: pd.DataFrame) -> list[object]:
        session = self.raw
        inputs = session.get_inputs()  # type: ignore[attr-defined]
        feed: dict[str, np.ndarray] = {}
        by_name = all(i.name in frame.columns for i in inputs)
        if len(inputs) == 1 and not (by_name and inputs[0].shape[-1:] == [1]):
            # One matrix of every column, in signature order.
            matrix = _cast(frame.to_numpy(), inputs[0].type, inputs[0].name)
            feed[inputs[0].name] = matrix.ravel() if len(inputs[0].shape) == 1 else matrix
        elif by_name:
            for i in inputs:
                column = _cast(frame[i.name].to_numpy(), i.type, i.name)
                feed[i.name] = column if len(i.shape) == 1 else column.reshape(-1, 1)
        else:
            names = [i.name for i in inputs]
            raise InvalidInput(
                f"the ONNX model takes inputs {names}; the frame has columns {list(frame.columns)}",
                field="inputs",
            )
        result: list[object] = session.run(None, feed)  # type: ignore[attr-defined]
        return result


def _cast(values: np.ndarray, onnx_type: str, name: str) -> np.ndarray:
    target = _NUMPY_TYPES.get(onnx_type)
    if target is None:
        raise InvalidInput(f"ONNX input {name!r} has unsupported type {onnx_type}", field=f"inputs.{name}")
    if target is np.str_:
        return np.asarray(
            ["" if v is None or v is pd.NA else str(v) for v in values.ravel()], dtype=object
        ).reshape(values.shape)
    try:
        return values.astype(target)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"input {name!r} cannot be converted to {onnx_type}", field=f"inputs.{name}"
        ) from None


class OnnxFlavor:
    name = "onnx"
    priority = 0

    def matches(self, model: object) -> bool:
        return from_library(model, "onnx") and hasattr(model, "SerializeToString")

    def save(self, model: object) -> Payload:
        return Payload(
            format="onnx",
            entries={ENTRY: model.SerializeToString()},  # type: ignore[attr-defined]
            library_versions={"onnx": version_of("onnx"), "onnxruntime": version_of("onnxruntime")},
        )

    def load(self, format: str, entries: Mapping[str, bytes], *, trust_pickle: bool) -> Predictor:
        import onnxruntime

        if format != "onnx" or ENTRY not in entries:
            raise InvalidInput(f"onnx packages hold {ENTRY} in onnx format, not {format!r}", field="format")
        try:
            session = onnxruntime.InferenceSession(entries[ENTRY], providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad graph
            raise InvalidInput(f"the ONNX model cannot be loaded: {exc}", field="model") from exc
        return OnnxPredictor(session)
