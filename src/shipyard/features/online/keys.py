"""Entity keys as bytes: canonical, so a key built from a request row equals the key built from a
source row at materialization, whatever their Python or Arrow types.

A key is the concatenation, over the view's join keys ordered by name, of one tagged part each:
integers (any width, integral floats, bools; digit strings where the key is declared an integer)
are ``b"i"`` + 8 bytes big-endian; strings are ``b"s"`` + 4-byte big-endian length + UTF-8;
bytes are ``b"b"`` + length + bytes. The namespace (view and version) fixes the key names, so
they are not stored.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput
from shipyard.features.model import Field
from shipyard.features.online.codec import rows_array
from shipyard.features.types import ValueType

_INT = struct.Struct(">cq")
_LEN = struct.Struct(">cI")
_INT_TYPES = (ValueType.INT32, ValueType.INT64, ValueType.BOOL)
_EMPTY = pa.scalar(b"", pa.large_binary())


class KeyEncoder:
    """Encodes the entity key of one view from a row (online reads) or columns (materialization)."""

    def __init__(self, join_keys: Sequence[Field | str]) -> None:
        fields = [k if isinstance(k, Field) else None for k in join_keys]
        names = [k.name if isinstance(k, Field) else k for k in join_keys]
        order = sorted(range(len(names)), key=lambda i: names[i])
        self.names: tuple[str, ...] = tuple(names[i] for i in order)
        self.types: tuple[ValueType | None, ...] = tuple(
            f.dtype if (f := fields[i]) is not None else None for i in order
        )
        self._single = len(self.names) == 1

    # ---- one row (the online read path) -------------------------------------------------------

    def encode(self, row: Mapping[str, object], index: int = 0) -> bytes:
        if self._single:
            name = self.names[0]
            try:
                value = row[name]
            except KeyError:
                raise _missing(name, index) from None
            return _part(value, self.types[0], name, index)
        parts = []
        for name, dtype in zip(self.names, self.types, strict=True):
            try:
                value = row[name]
            except KeyError:
                raise _missing(name, index) from None
            parts.append(_part(value, dtype, name, index))
        return b"".join(parts)

    # ---- columns (materialization) -----------------------------------------------------------

    def encode_columns(
        self, columns: Mapping[str, pa.Array | pa.ChunkedArray]
    ) -> tuple[pa.Array, pa.Array | None]:
        """Binary keys for every row, and a boolean mask of rows whose key is complete (``None``
        when all are): rows with a null key part cannot be served and are to be skipped."""
        parts: list[pa.Array] = []
        valid: pa.Array | None = None
        for name, dtype in zip(self.names, self.types, strict=True):
            if name not in columns:
                raise InvalidInput(f"the rows have no join key column {name!r}", field=name)
            column = columns[name]
            array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            if array.null_count:
                mask = pc.is_valid(array)
                valid = mask if valid is None else pc.and_(valid, mask)
            parts.append(_column_part(array, dtype, name))
        keys = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, _EMPTY)
        return keys, valid


def _missing(name: str, index: int) -> InvalidInput:
    return InvalidInput(f"entity row {index} has no value for the join key {name!r}", field=name)


def _part(value: object, dtype: ValueType | None, name: str, index: int) -> bytes:
    kind = type(value)
    if kind is int and dtype is not ValueType.STRING:
        return _INT.pack(b"i", value)
    if isinstance(value, str):
        if dtype in _INT_TYPES:
            try:
                return _INT.pack(b"i", int(value))
            except ValueError:
                raise InvalidInput(
                    f"entity row {index}: join key {name!r} must be an integer, got {value!r}", field=name
                ) from None
        encoded = value.encode()
        if dtype is not ValueType.BYTES:
            return _LEN.pack(b"s", len(encoded)) + encoded
        value = encoded
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return _LEN.pack(b"b", len(data)) + data
    if isinstance(value, bool | np.bool_ | int | np.integer):
        if dtype is ValueType.STRING:
            raise InvalidInput(
                f"entity row {index}: join key {name!r} must be a string, got {value!r}", field=name
            )
        return _INT.pack(b"i", int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            raise InvalidInput(f"entity row {index} has no value for the join key {name!r}", field=name)
        if float(value).is_integer() and dtype is not ValueType.STRING:
            return _INT.pack(b"i", int(value))
    if isinstance(value, np.str_):
        return _part(str(value), dtype, name, index)
    if value is None or value is pd.NA:
        raise _missing(name, index)
    raise InvalidInput(
        f"entity row {index}: join key {name!r} must be an integer or a string, got {value!r}", field=name
    )


def _column_part(array: pa.Array, dtype: ValueType | None, name: str) -> pa.Array:
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    if pa.types.is_floating(kind):
        floats = array.fill_null(0).to_numpy(zero_copy_only=False)
        if not np.all(np.mod(floats, 1) == 0):
            raise InvalidInput(f"join key column {name!r} holds non-integral numbers", field=name)
        array = pa.array(floats.astype(np.int64), mask=pc.is_null(array).to_numpy(zero_copy_only=False))
        kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        values = array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        packed = np.empty(len(values), dtype=[("t", "S1"), ("v", ">i8")])
        packed["t"] = b"i"
        packed["v"] = values
        return rows_array(packed)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if dtype in _INT_TYPES:
            raise InvalidInput(
                f"join key column {name!r} is declared an integer but holds strings", field=name
            )
        return _var(array.cast(pa.large_binary()), b"s")
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return _var(array.cast(pa.large_binary()), b"b")
    raise InvalidInput(
        f"join key column {name!r} has type {kind}; keys must be integers or strings", field=name
    )


def _var(data: pa.Array, tag: bytes) -> pa.Array:
    data = data.fill_null(b"")
    lengths = pc.binary_length(data).to_numpy(zero_copy_only=False)
    header = np.empty(len(lengths), dtype=[("t", "S1"), ("n", ">u4")])
    header["t"] = tag
    header["n"] = lengths
    return pc.binary_join_element_wise(rows_array(header), data, _EMPTY)
