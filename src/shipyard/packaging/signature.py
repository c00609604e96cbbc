"""Model signatures: the columns (names and types) a model takes and the outputs it returns.

A signature is inferred from the training input example when a model is packaged and checked on
every prediction, so a caller sending a missing or mistyped column gets an
:class:`~shipyard.errors.InvalidInput` naming that column instead of a failure deep inside a library.

Type names: ``bool``, ``int8`` … ``int64``, ``uint8`` … ``uint64``, ``float32``, ``float64``,
``string``, ``category``, ``datetime`` and ``object`` (anything else; not checked). Checking is
lenient where no information is lost: any integer width is accepted for an integer column, integers
for a float column, integral floats (no missing values) for an integer column, strings for a
``category`` column and ISO strings for a ``datetime`` column. Extra columns are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput

INTEGER_TYPES = frozenset(f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64))
FLOAT_TYPES = frozenset({"float16", "float32", "float64"})
DTYPES = INTEGER_TYPES | FLOAT_TYPES | {"bool", "string", "category", "datetime", "object"}


@dataclass(frozen=True)
class ColumnSpec:
    """One named column and its type (see the module docstring for type names)."""

    name: str
    dtype: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "dtype": self.dtype}


@dataclass(frozen=True)
class Signature:
    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...]

    @property
    def input_names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, object]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [c.to_dict() for c in self.outputs],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Signature:
        if not isinstance(d, Mapping):
            raise InvalidInput(f"signature must be an object, got {type(d).__name__}", field="signature")
        return cls(_columns(d, "inputs"), _columns(d, "outputs"))

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the signature's columns, in its order and cast to its types.

        Raises InvalidInput naming every missing column, or the first column of the wrong type.
        """
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(
                f"model input must be a pandas DataFrame with columns {self.input_names}, "
                f"got {type(frame).__name__}",
                field="inputs",
            )
        missing = [c.name for c in self.inputs if c.name not in frame.columns]
        if missing:
            raise InvalidInput(
                f"model input is missing column(s) {', '.join(map(repr, missing))}; "
                f"expected columns {self.input_names}",
                field=f"inputs.{missing[0]}",
            )
        return pd.DataFrame(
            {c.name: _conform(frame[c.name], c) for c in self.inputs}, index=frame.index, copy=False
        )


def infer_signature(inputs: pd.DataFrame, outputs: object) -> Signature:
    """Signature of a model that maps ``inputs`` (the training input example) to ``outputs``
    (what its ``predict`` returned for them: an array, a Series or a DataFrame)."""
    if not isinstance(inputs, pd.DataFrame):
        raise InvalidInput(
            f"input_example must be a pandas DataFrame, got {type(inputs).__name__}", field="input_example"
        )
    if len(inputs.columns) == 0:
        raise InvalidInput("input_example has no columns", field="input_example")
    named = [c for c in inputs.columns if not isinstance(c, str)]
    if named:
        raise InvalidInput(
            f"input_example column names must be strings (the names callers send), got {named[0]!r}",
            field="input_example",
        )
    names = list(inputs.columns)
    if len(set(names)) != len(names):
        raise InvalidInput(f"input_example has duplicate column names: {names}", field="input_example")
    columns = tuple(ColumnSpec(name, dtype_name(inputs[name])) for name in names)
    return Signature(columns, _output_columns(outputs))


def dtype_name(values: pd.Series | np.ndarray) -> str:
    """The signature type name of a column's values."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) and _all_strings(values):
        return "string"
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return dtype.name
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        # pandas nullable extension types (Int64, Float32, ...): their numpy names.
        return str(np.dtype(dtype.numpy_dtype))  # type: ignore[union-attr]
    return "object"


def _all_strings(values: pd.Series | np.ndarray) -> bool:
    series = pd.Series(values) if isinstance(values, np.ndarray) else values
    return bool(series.dropna().map(lambda v: isinstance(v, str)).all())


def _output_columns(outputs: object) -> tuple[ColumnSpec, ...]:
    if isinstance(outputs, pd.DataFrame):
        return tuple(ColumnSpec(str(c), dtype_name(outputs[c])) for c in outputs.columns)
    if isinstance(outputs, pd.Series):
        return (
            ColumnSpec(str(outputs.name) if outputs.name is not None else "prediction", dtype_name(outputs)),
        )
    array = np.asarray(outputs)
    if array.ndim <= 1:
        return (ColumnSpec("prediction", dtype_name(array.reshape(-1))),)
    if array.ndim == 2:
        kind = dtype_name(array[:, 0]) if array.shape[1] else "object"
        return tuple(ColumnSpec(f"prediction_{i}", kind) for i in range(array.shape[1]))
    return (ColumnSpec("prediction", "object"),)


def _columns(d: Mapping[str, object], key: str) -> tuple[ColumnSpec, ...]:
    raw = d.get(key)
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise InvalidInput(f"signature.{key} must be a list of columns", field=f"signature.{key}")
    columns = []
    for i, item in enumerate(raw):
        where = f"signature.{key}[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"{where} must be an object with a string 'name'", field=where)
        dtype = item.get("dtype")
        if dtype not in DTYPES:
            raise InvalidInput(
                f"{where}.dtype is {dtype!r}; expected one of {sorted(DTYPES)}", field=f"{where}.dtype"
            )
        columns.append(ColumnSpec(item["name"], str(dtype)))
    return tuple(columns)


def _conform(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """``values`` cast to ``spec.dtype``; InvalidInput naming the column when that would lose
    information or is impossible."""
    want, have = spec.dtype, dtype_name(values)
    if want == have or want == "object":
        return values

    def wrong(expected: str) -> InvalidInput:
        return InvalidInput(
            f"model input column {spec.name!r} has type {have}; expected {expected}",
            field=f"inputs.{spec.name}",
        )

    if want in FLOAT_TYPES:
        if have in INTEGER_TYPES or have in FLOAT_TYPES:
            return values.astype(want)
        raise wrong(f"{want} (numbers)")
    if want in INTEGER_TYPES:
        if have in INTEGER_TYPES:
            return values.astype(want)
        if have in FLOAT_TYPES:
            numbers = values.to_numpy()
            if not np.isfinite(numbers).all():
                raise InvalidInput(
                    f"model input column {spec.name!r} has missing or infinite values; expected {want}",
                    field=f"inputs.{spec.name}",
                )
            if (numbers == np.round(numbers)).all():
                return values.astype(want)
        raise wrong(f"{want} (whole numbers)")
    if want == "category":
        if have == "string":
            return values.astype("category")
        raise wrong("category (strings)")
    if want == "string":
        if have == "category" and _all_strings(values.astype(object)):
            return values.astype(object)
        raise wrong("string")
    if want == "datetime":
        if have == "string":
            try:
                return pd.to_datetime(values, format="ISO8601")
            except (ValueError, TypeError):
                raise wrong("datetime (ISO 8601 strings or datetime values)") from None
        raise wrong("datetime")
    raise wrong(want)  # bool: only booleans are booleans
