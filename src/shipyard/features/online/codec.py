"""Feature values as bytes: one compact record per entity holding every feature of a view version.

Layout (little-endian): a format byte (1); a null bitmap (bit i set: feature i is null); the
fixed-width features in declared order (int32 ``i``, int64 ``q``, float32 ``f``, float64 ``d``,
bool ``?``, timestamp ``q`` microseconds since the epoch, UTC); a 4-byte length per string/bytes
feature; then those strings/bytes back to back. Decoding is one ``struct.unpack_from`` plus a
slice per string, which keeps a one-entity online read in the microseconds; encoding is
vectorised over Arrow columns for materialization. Measured against JSON on a 10-feature record
(7 floats, 2 ints, a string): 86 bytes instead of 135, ~2.5x faster to decode
(``benchmarks/bench_features_online.py``), and >10x faster to encode a million rows.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import CorruptArtifact, InvalidInput
from shipyard.features.model import Field
from shipyard.features.types import ValueType

FORMAT = 1
_EMPTY = pa.scalar(b"", pa.large_binary())
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIXED = {
    ValueType.INT32: ("i", "<i4", pa.int32()),
    ValueType.INT64: ("q", "<i8", pa.int64()),
    ValueType.FLOAT32: ("f", "<f4", pa.float32()),
    ValueType.FLOAT64: ("d", "<f8", pa.float64()),
    ValueType.BOOL: ("?", "u1", pa.bool_()),
    ValueType.TIMESTAMP: ("q", "<i8", pa.timestamp("us")),
}


class ValueCodec:
    """Encoder/decoder of one view version's feature records."""

    def __init__(self, features: Sequence[Field]) -> None:
        self.features = tuple(features)
        self.names = tuple(f.name for f in self.features)
        self._fixed = [i for i, f in enumerate(self.features) if f.dtype in _FIXED]
        self._var = [i for i, f in enumerate(self.features) if f.dtype not in _FIXED]
        self._strings = {i for i in self._var if self.features[i].dtype is ValueType.STRING}
        self._timestamps = [i for i in self._fixed if self.features[i].dtype is ValueType.TIMESTAMP]
        self._null_bytes = (len(self.features) + 7) // 8
        fmt = "<" + "".join(_FIXED[self.features[i].dtype][0] for i in self._fixed) + "I" * len(self._var)
        self._struct = struct.Struct(fmt)
        self._header = 1 + self._null_bytes
        self._size = self._header + self._struct.size
        # Decoding builds (fixed values..., string/bytes values...) then reorders to declared order.
        combined = self._fixed + self._var
        self._order = tuple(combined.index(i) for i in range(len(self.features)))
        self._in_order = combined == list(range(len(self.features)))
        self._fixed_count = len(self._fixed)
        self._var_kinds = tuple(i in self._strings for i in self._var)
        self._timestamp_slots = tuple(combined.index(i) for i in self._timestamps)
        # Fast path: numbers only (no strings, no timestamps): the unpacked tuple is the answer.
        self._plain = not self._var and not self._timestamps

    # ---- decoding (online reads) --------------------------------------------------------------

    def decode(self, data: bytes) -> tuple[object, ...]:
        """Every feature's value, in declared order (``None`` for nulls)."""
        if len(data) < self._size or data[0] != FORMAT:
            raise CorruptArtifact(
                f"online value of {len(data)} bytes does not match the view's record layout"
            )
        nulls = int.from_bytes(data[1 : self._header], "little")
        unpacked = self._struct.unpack_from(data, self._header)
        if self._plain:
            values: tuple[object, ...] = unpacked
        else:
            count = self._fixed_count
            items: list[object] = list(unpacked[:count])
            offset = self._size
            for length, is_string in zip(unpacked[count:], self._var_kinds, strict=True):
                end = offset + length
                items.append(data[offset:end].decode() if is_string else data[offset:end])
                offset = end
            for slot in self._timestamp_slots:
                items[slot] = _EPOCH + timedelta(microseconds=items[slot])  # type: ignore[arg-type]
            values = tuple(items) if self._in_order else tuple(items[i] for i in self._order)
        if nulls:
            values = tuple(None if nulls >> i & 1 else v for i, v in enumerate(values))
        return values

    # ---- encoding (materialization) ---------------------------------------------------------

    def encode_columns(self, columns: Mapping[str, pa.Array | pa.ChunkedArray], num_rows: int) -> pa.Array:
        """One binary record per row from the feature columns (Arrow; cast to the declared types)."""
        arrays = {f.name: _array(columns, f) for f in self.features}
        dtype = np.dtype(
            [("format", "u1"), ("nulls", "u1", (self._null_bytes,))]
            + [(f"f{i}", _FIXED[self.features[i].dtype][1]) for i in self._fixed]
            + [(f"n{i}", "<u4") for i in self._var]
        )
        packed = np.zeros(num_rows, dtype=dtype)
        packed["format"] = FORMAT
        for i, f in enumerate(self.features):
            array = arrays[f.name]
            if array.null_count:
                mask = pc.is_null(array).to_numpy(zero_copy_only=False).astype(np.uint8)
                packed["nulls"][:, i // 8] |= mask << (i % 8)
        for i in self._fixed:
            array = arrays[self.names[i]]
            if array.type == pa.bool_():
                array = array.cast(pa.uint8())
            elif pa.types.is_timestamp(array.type):
                array = array.cast(pa.int64())
            packed[f"f{i}"] = array.fill_null(0).to_numpy(zero_copy_only=False)
        data: list[pa.Array] = []
        for i in self._var:
            binary = arrays[self.names[i]].cast(pa.large_binary()).fill_null(b"")
            packed[f"n{i}"] = pc.binary_length(binary).to_numpy(zero_copy_only=False)
            data.append(binary)
        fixed = rows_array(packed)
        return pc.binary_join_element_wise(fixed, *data, _EMPTY) if data else fixed


def _array(columns: Mapping[str, pa.Array | pa.ChunkedArray], feature: Field) -> pa.Array:
    if feature.name not in columns:
        raise InvalidInput(f"the rows have no column for the feature {feature.name!r}", field=feature.name)
    column = columns[feature.name]
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    target = _FIXED[feature.dtype][2] if feature.dtype in _FIXED else feature.dtype.arrow()
    try:
        if pa.types.is_timestamp(array.type) and array.type.tz is not None:
            array = array.cast(pa.timestamp(array.type.unit))  # the stored instants are UTC already
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidInput(
            f"feature {feature.name!r}: cannot store {array.type} values as {feature.dtype}: {exc}",
            field=feature.name,
        ) from None


def rows_array(packed: np.ndarray) -> pa.Array:
    """A ``large_binary`` array whose values are the rows of a structured array (no copy)."""
    width = packed.dtype.itemsize
    offsets = np.arange(0, (len(packed) + 1) * width, width, dtype=np.int64)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        len(packed),
        [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(packed))],
    )
