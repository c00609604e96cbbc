"""Request bodies in the three accepted protocols, read into columns (name -> list of values),
checked against a model's signature without building a DataFrame per request.

- Shipyard's own JSON: ``{"inputs": {col: value}}`` (one row) or ``{"inputs": [{...}, ...]}``,
  optionally ``"entities": [{key: value}, ...]`` for online features (one per row).
- MLflow ``/invocations``: exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``,
  ``inputs``.
- Open Inference Protocol v2 ``infer``: ``{"id"?, "inputs": [{name, shape, datatype, data}]}``, one
  tensor per column (shape ``[n]`` or ``[n, 1]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidInput

MAX_ROWS = 10_000
MAX_COLUMNS = 2_000

Columns = dict[str, list[Any]]

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
V2_DATATYPES = frozenset(
    {
        "BOOL",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "FP32",
        "FP64",
        "BYTES",
    }
)


@dataclass
class Rows:
    """``n`` rows of a request as columns; ``single`` when the caller sent one row unwrapped."""

    columns: Columns
    n: int
    single: bool = False
    entities: list[dict[str, Any]] | None = None
    request_id: str | None = None  # the v2 ``id``, echoed back
    extra: dict[str, Any] = field(default_factory=dict)


def _bad(message: str, where: str) -> InvalidInput:
    return InvalidInput(message, field=where)


def _count(n: int, where: str) -> int:
    if n == 0:
        raise _bad(f"{where} has no rows", where)
    if n > MAX_ROWS:
        raise _bad(f"{where} has {n} rows; at most {MAX_ROWS} per request", where)
    return n


def _records(records: object, where: str) -> Columns:
    """A list of row objects -> columns (a key missing from a row becomes None)."""
    if not isinstance(records, list):
        raise _bad(f"{where} must be a list of row objects", where)
    _count(len(records), where)
    names: dict[str, None] = {}
    for i, row in enumerate(records):
        if not isinstance(row, dict):
            raise _bad(f"{where}[{i}] must be an object of column: value", f"{where}[{i}]")
        names.update(dict.fromkeys(row))
        if len(names) > MAX_COLUMNS:
            raise _bad(f"{where} has more than {MAX_COLUMNS} columns", where)
    return {name: [row.get(name) for row in records] for name in names}


def parse_own(body: object) -> Rows:
    if not isinstance(body, dict) or "inputs" not in body:
        raise _bad('the body must be a JSON object with "inputs": a row object or a list of them', "inputs")
    unknown = set(body) - {"inputs", "entities"}
    if unknown:
        raise _bad(f"unknown field(s) {sorted(unknown)}; expected inputs, entities", sorted(unknown)[0])
    inputs = body["inputs"]
    single = isinstance(inputs, dict)
    columns = _records([inputs] if single else inputs, "inputs")
    n = 1 if single else len(inputs)
    entities = body.get("entities")
    if entities is not None:
        if isinstance(entities, dict):
            entities = [entities]
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise _bad("entities must be a list of objects of entity key: value", "entities")
        if len(entities) != n:
            raise _bad(f"entities has {len(entities)} rows; inputs has {n}: give one per row", "entities")
    return Rows(columns, n, single=single, entities=entities)


def parse_entities_only(body: object) -> Rows:
    """``{"entities": [...]}`` with no inputs: every model input comes from the feature service."""
    if isinstance(body, dict) and "entities" in body and "inputs" not in body:
        entities = body["entities"]
        rows = [entities] if isinstance(entities, dict) else entities
        if not isinstance(rows, list) or not all(isinstance(e, dict) for e in rows):
            raise _bad("entities must be a list of objects of entity key: value", "entities")
        n = _count(len(rows), "entities")
        return Rows({}, n, single=isinstance(entities, dict), entities=rows)
    return parse_own(body)


def parse_mlflow(body: object) -> Rows:
    if not isinstance(body, dict):
        raise _bad(f"the body must be a JSON object with exactly one of {', '.join(MLFLOW_KEYS)}", "body")
    keys = [k for k in MLFLOW_KEYS if k in body]
    if len(keys) != 1:
        raise _bad(
            f"the body must have exactly one of {', '.join(MLFLOW_KEYS)}; got "
            f"{', '.join(keys) if keys else 'none of them'}",
            keys[1] if len(keys) > 1 else "body",
        )
    key = keys[0]
    value = body[key]
    if key == "dataframe_split":
        return Rows(*_split(value))
    if key == "dataframe_records":
        columns = _records(value, key)
        return Rows(columns, len(value))
    if key == "instances":
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            return Rows(_records(value, key), len(value))
        return Rows(*_columnar(value, key))
    if isinstance(value, dict):
        return Rows(*_columnar(value, key))
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return Rows(_records(value, key), len(value))
    raise _bad(f"{key} must be an object of column: list of values, or a list of row objects", key)


def _split(value: object) -> tuple[Columns, int]:
    where = "dataframe_split"
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
        raise _bad(f'{where} must be an object with "columns" and "data"', f"{where}.columns")
    names = value["columns"]
    data = value.get("data")
    if not all(isinstance(c, str) for c in names) or len(set(names)) != len(names):
        raise _bad(f"{where}.columns must be distinct column names", f"{where}.columns")
    if len(names) > MAX_COLUMNS:
        raise _bad(f"{where} has more than {MAX_COLUMNS} columns", f"{where}.columns")
    if not isinstance(data, list):
        raise _bad(f"{where}.data must be a list of rows", f"{where}.data")
    n = _count(len(data), f"{where}.data")
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(names):
            raise _bad(f"{where}.data[{i}] must be a list of {len(names)} values", f"{where}.data[{i}]")
    return {name: [row[j] for row in data] for j, name in enumerate(names)}, n


def _columnar(value: object, where: str) -> tuple[Columns, int]:
    if not isinstance(value, dict) or not value:
        raise _bad(f"{where} must be an object of column: list of values", where)
    if len(value) > MAX_COLUMNS:
        raise _bad(f"{where} has more than {MAX_COLUMNS} columns", where)
    columns: Columns = {}
    n: int | None = None
    for name, values in value.items():
        values = values if isinstance(values, list) else [values]
        if n is not None and len(values) != n:
            raise _bad(f"{where}.{name} has {len(values)} values; other columns have {n}", f"{where}.{name}")
        n = len(values)
        columns[name] = values
    return columns, _count(n or 0, where)


def parse_v2(body: object) -> Rows:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise _bad('the body must be a JSON object with "inputs": a list of tensors', "inputs")
    request_id = body.get("id")
    if request_id is not None and (not isinstance(request_id, str) or len(request_id) > 200):
        raise _bad("id must be a string of at most 200 characters", "id")
    if len(body["inputs"]) > MAX_COLUMNS:
        raise _bad(f"inputs has more than {MAX_COLUMNS} tensors", "inputs")
    columns: Columns = {}
    n: int | None = None
    for i, tensor in enumerate(body["inputs"]):
        where = f"inputs[{i}]"
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise _bad(f"{where} must be a tensor object with a name", where)
        name = tensor["name"]
        if tensor.get("datatype") not in V2_DATATYPES:
            raise _bad(f"{where}.datatype must be one of {sorted(V2_DATATYPES)}", f"{where}.datatype")
        shape = tensor.get("shape")
        if (
            not isinstance(shape, list)
            or not 1 <= len(shape) <= 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
            or (len(shape) == 2 and shape[1] != 1)
        ):
            raise _bad(f"{where}.shape must be [rows] or [rows, 1] (one tensor per column)", f"{where}.shape")
        data = tensor.get("data")
        if not isinstance(data, list):
            raise _bad(f"{where}.data must be a list", f"{where}.data")
        flat = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in data]
        if len(flat) != shape[0]:
            raise _bad(f"{where}.data has {len(flat)} values; shape says {shape[0]}", f"{where}.data")
        if n is not None and len(flat) != n:
            raise _bad(f"{where} has {len(flat)} rows; other inputs have {n}", f"{where}.shape")
        n = len(flat)
        columns[name] = flat
    return Rows(columns, _count(n or 0, "inputs"), request_id=request_id)


# -- signature check ----------------------------------------------------------------------------

_INTEGERS = {f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64)}
_FLOATS = {"float16", "float32", "float64"}


def _ok_int(v: object) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and math.isfinite(v) and v == int(v)
    )


def _ok_float(v: object) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _ok_bool(v: object) -> bool:
    return isinstance(v, bool)


def _ok_str(v: object) -> bool:
    return isinstance(v, str) or v is None


def _any(v: object) -> bool:
    return True


def _checker(dtype: str) -> tuple[Any, str]:
    if dtype in _INTEGERS:
        return _ok_int, f"{dtype} (whole numbers)"
    if dtype in _FLOATS:
        return _ok_float, f"{dtype} (numbers)"
    if dtype == "bool":
        return _ok_bool, "bool (true or false)"
    if dtype in ("string", "category", "datetime"):
        return _ok_str, f"{dtype} (strings)"
    return _any, dtype


def _type_name(v: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}.get(
        type(v), type(v).__name__
    )


def check_columns(specs: Sequence[tuple[str, str]], columns: Mapping[str, list[Any]]) -> Columns:
    """The signature's columns of ``columns`` (extras dropped), or InvalidInput naming the first
    missing column (``inputs.<name>``) or the first value of the wrong type."""
    missing = [name for name, _ in specs if name not in columns]
    if missing:
        raise InvalidInput(
            f"model input is missing column(s) {', '.join(map(repr, missing))}; "
            f"expected columns {[name for name, _ in specs]}",
            field=f"inputs.{missing[0]}",
        )
    out: Columns = {}
    for name, dtype in specs:
        values = columns[name]
        ok, expected = _checker(dtype)
        if ok is not _any:
            for i, v in enumerate(values):
                if not ok(v):
                    raise InvalidInput(
                        f"model input column {name!r} has a {_type_name(v)} at row {i}; expected {expected}",
                        field=f"inputs.{name}",
                    )
        out[name] = values
    return out
