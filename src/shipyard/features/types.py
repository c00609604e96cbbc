"""Feature value types and their Arrow equivalents.

A feature's declared type is checked against the source's Arrow schema when a definition is
planned, and is the type the offline store and the online store return.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa


class ValueType(StrEnum):
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    BOOL = "bool"
    BYTES = "bytes"
    TIMESTAMP = "timestamp"

    @classmethod
    def parse(cls, value: ValueType | str, *, field: str) -> ValueType:
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(v.value for v in cls)
            raise InvalidInput(f"{field}: unknown type {value!r}; known: {known}", field=field) from None

    def arrow(self) -> pa.DataType:
        return _to_arrow()[self]

    def accepts(self, arrow_type: pa.DataType) -> bool:
        """Whether a source column of ``arrow_type`` can be served as this type without loss of
        meaning (integers widen, floats widen, any string or timestamp flavour is accepted)."""
        import pyarrow as pa

        if self in (ValueType.INT32, ValueType.INT64):
            return bool(pa.types.is_integer(arrow_type))
        if self in (ValueType.FLOAT32, ValueType.FLOAT64):
            return bool(
                pa.types.is_floating(arrow_type)
                or pa.types.is_integer(arrow_type)
                or pa.types.is_decimal(arrow_type)
            )
        if self is ValueType.STRING:
            return bool(
                pa.types.is_string(arrow_type)
                or pa.types.is_large_string(arrow_type)
                or pa.types.is_dictionary(arrow_type)
            )
        if self is ValueType.BOOL:
            return bool(pa.types.is_boolean(arrow_type))
        if self is ValueType.BYTES:
            return bool(pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type))
        return bool(pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type))


@cache
def _to_arrow() -> dict[ValueType, pa.DataType]:
    # pyarrow is imported on first use: importing the feature model (the SDK does) stays cheap.
    import pyarrow as pa

    return {
        ValueType.INT32: pa.int32(),
        ValueType.INT64: pa.int64(),
        ValueType.FLOAT32: pa.float32(),
        ValueType.FLOAT64: pa.float64(),
        ValueType.STRING: pa.string(),
        ValueType.BOOL: pa.bool_(),
        ValueType.BYTES: pa.binary(),
        ValueType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    }


def value_type_of(arrow_type: pa.DataType) -> ValueType | None:
    """The natural :class:`ValueType` for an Arrow column type, or None when there is none."""
    for vt in (
        ValueType.BOOL,
        ValueType.INT64,
        ValueType.FLOAT64,
        ValueType.STRING,
        ValueType.BYTES,
        ValueType.TIMESTAMP,
    ):
        if vt.accepts(arrow_type):
            return vt
    return None
